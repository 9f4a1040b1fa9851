"""``kgctl_py.record`` behaves as ``dataclasses.dataclass`` does, for the features
the project uses: any field layout and any call give the same instance, or the
same kind of error, from both."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kgctl_py import record as rec

# A field: no default, a plain default, or a factory; and whether it is compared and shown.
FIELD = st.tuples(st.sampled_from(["required", "default", "factory"]), st.booleans(), st.booleans())


def _layout(kinds: list[tuple[str, bool, bool]]) -> list[tuple[str, bool, bool]]:
    # Dataclasses refuse a required field after a defaulted one; so do records (tested below).
    required = [k for k in kinds if k[0] == "required"]
    return required + [k for k in kinds if k[0] != "required"]


def _classes(kinds: list[tuple[str, bool, bool]], frozen: bool) -> tuple[type, type]:
    made = []
    for make, specify in ((dataclasses.dataclass, dataclasses.field), (rec.record, rec.field)):
        ns: dict[str, Any] = {"__annotations__": {}}
        for i, (kind, compare, shown) in enumerate(kinds):
            name = f"f{i}"
            ns["__annotations__"][name] = "Any"
            if kind == "default":
                ns[name] = specify(default=i * 10, compare=compare, repr=shown) if not (compare and shown) else i * 10
            elif kind == "factory":
                ns[name] = specify(default_factory=list, compare=compare, repr=shown)
            elif not (compare and shown):
                ns[name] = specify(compare=compare, repr=shown)
        cls = type("R", (), ns)
        made.append(make(frozen=frozen)(cls))
    return made[0], made[1]


def _outcome(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        obj = cls(*args, **kwargs)
    except TypeError:
        return ("TypeError", None)
    return ("ok", (vars(obj), repr(obj)))


def _hash(obj: object) -> object:
    try:
        return hash(obj)
    except TypeError:
        return TypeError


@settings(max_examples=300, deadline=None)
@given(
    kinds=st.lists(FIELD, max_size=6),
    frozen=st.booleans(),
    positional=st.integers(0, 8),
    keywords=st.lists(st.integers(0, 8), max_size=6),
    data=st.data(),
)
def test_any_layout_and_call_match_dataclasses(kinds, frozen, positional, keywords, data) -> None:
    kinds = _layout(kinds)
    dc, rc = _classes(kinds, frozen)
    args = tuple(range(100, 100 + positional))
    kwargs = {f"f{k}": -k for k in keywords}
    assert _outcome(rc, args, kwargs) == _outcome(dc, args, kwargs)
    ok, _ = _outcome(dc, args, kwargs)
    if ok != "ok":
        return
    a, b = rc(*args, **kwargs), rc(*args, **kwargs)
    assert (a == b) is True and (a != b) is False
    assert (a == object()) is False
    assert rec.fields(a) == tuple(f.name for f in dataclasses.fields(dc))
    if kinds:
        name = data.draw(st.sampled_from(rec.fields(a)))
        changed = rec.replace(a, **{name: "new"})
        assert getattr(changed, name) == "new" and getattr(a, name) != "new"
        assert vars(changed) == vars(dataclasses.replace(dc(*args, **kwargs), **{name: "new"}))
        compared = [n for n, (_, compare, _) in zip(rec.fields(a), kinds) if compare]
        assert (changed == a) is (name not in compared)
    if frozen:
        assert _hash(a) == _hash(b) == _hash(dc(*args, **kwargs))  # a factory's list is unhashable in both
        with pytest.raises(AttributeError):
            a.f0 = 1  # type: ignore[attr-defined]
        with pytest.raises(AttributeError):
            del a.f0  # type: ignore[attr-defined]
    else:
        with pytest.raises(TypeError):
            hash(a)
        if kinds:
            a.f0 = "set"  # type: ignore[attr-defined]
            assert a.f0 == "set"  # type: ignore[attr-defined]
            assert (a != b) is kinds[0][1]  # unequal now only if f0 is compared


def test_a_factory_gives_each_record_its_own_value() -> None:
    @rec.record
    class R:
        items: list[int] = rec.field(default_factory=list)

    a, b = R(), R()
    a.items.append(1)
    assert b.items == [] and a.items == [1]


def test_a_required_field_after_a_default_is_refused_as_dataclasses_do() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):

        @rec.record
        class R:
            a: int = 0
            b: int  # type: ignore[misc]


def test_a_subclass_keeps_its_bases_fields_and_methods() -> None:
    @rec.record
    class Base:
        a: int
        b: str = "x"

    class Painted(Base):
        def paint(self) -> str:
            return self.b * self.a

    @rec.record
    class More(Base):
        c: float = 1.5

    p = Painted(2)
    assert (p.paint(), repr(p), rec.fields(p)) == ("xx", f"{Painted.__qualname__}(a=2, b='x')", ("a", "b"))
    assert rec.fields(More) == ("a", "b", "c") and More(1, "y", 2.0).c == 2.0
    assert Base(1) != Painted(1)  # as dataclasses: other classes are never equal


def test_class_attributes_hold_the_defaults_as_with_dataclasses() -> None:
    @rec.record
    class R:
        a: int = 3
        b: list[int] = rec.field(default_factory=list)

    assert R.a == 3 and not hasattr(R, "b")


def test_methods_the_class_writes_itself_are_kept_as_with_dataclasses() -> None:
    @rec.record
    class Secret:
        token: str

        def __repr__(self) -> str:
            return "Secret(<redacted>)"

    @rec.record(frozen=True)
    class ByName:
        name: str
        note: str = ""

        def __eq__(self, other: object) -> bool:
            return isinstance(other, ByName) and other.name == self.name

        def __hash__(self) -> int:
            return hash(self.name)

    assert repr(Secret("hunter2")) == "Secret(<redacted>)"
    assert ByName("a", "x") == ByName("a", "y") and hash(ByName("a", "x")) == hash("a")
    with pytest.raises(TypeError):

        @rec.record(frozen=True)
        class Settable:
            a: int

            def __setattr__(self, name: str, value: object) -> None: ...


def test_a_redefined_field_keeps_its_place_and_a_classvar_is_no_field() -> None:
    made = []
    for make in (dataclasses.dataclass, rec.record):

        @make
        class Base:
            a: int = 1
            b: str = "x"

        @make
        class Sub(Base):
            a: int = 2
            LIMIT: ClassVar[int] = 128

        made.append(Sub)
    dc, rc = made
    assert repr(rc(5)).endswith("Sub(a=5, b='x')") and repr(rc(5)).split(".")[-1] == repr(dc(5)).split(".")[-1]
    assert rc.__match_args__ == dc.__match_args__ == ("a", "b")
    assert rc.LIMIT == 128 and rec.fields(rc) == ("a", "b")


def test_a_record_matches_positionally_as_a_dataclass_does() -> None:
    @rec.record(frozen=True)
    class Net:
        ip: str
        ones: int

    match Net("10.0.0.0", 8):
        case Net(ip, ones):
            assert (ip, ones) == ("10.0.0.0", 8)
        case _:
            pytest.fail("no match")


def _declare(make: str, body: str, frozen_base: bool | None, frozen: bool) -> None:
    """Declare class R (on a Base, frozen or not) with ``make`` ("rec.record" or "dataclasses.dataclass")."""
    ns: dict[str, Any] = {"rec": rec, "dataclasses": dataclasses}
    base = ""
    if frozen_base is not None:
        exec(f"@{make}(frozen={frozen_base})\nclass Base:\n    z: int = 0\n", ns)
        base = "(Base)"
    field = "rec.field" if make == "rec.record" else "dataclasses.field"
    lines = body.replace("FIELD", field).splitlines()
    exec(f"@{make}(frozen={frozen})\nclass R{base}:\n" + "".join(f"    {line}\n" for line in lines), ns)


@pytest.mark.parametrize(
    ("body", "frozen_base", "frozen", "error", "dataclasses_too"),
    [
        # dataclasses call __post_init__; records refuse it rather than skip it.
        ("a: int = 0\ndef __post_init__(self): pass", None, False, TypeError, False),
        ("a = FIELD(default=1)", None, False, TypeError, True),
        ("a: list = []", None, False, ValueError, True),
        ("a: int = FIELD(default=1, default_factory=int)", None, False, ValueError, True),
        ("a: int = 1", True, False, TypeError, True),
        ("a: int = 1", False, True, TypeError, True),
    ],
    ids=["post-init", "no-annotation", "mutable-default", "default-and-factory", "mutable-from-frozen", "frozen-from-mutable"],
)
def test_what_dataclasses_refuse_records_refuse(body: str, frozen_base: bool | None, frozen: bool, error: type[Exception], dataclasses_too: bool) -> None:
    with pytest.raises(error):
        _declare("rec.record", body, frozen_base, frozen)
    if dataclasses_too:
        with pytest.raises(error):
            _declare("dataclasses.dataclass", body, frozen_base, frozen)
    else:
        _declare("dataclasses.dataclass", body, frozen_base, frozen)


def test_an_undecorated_subclass_of_a_frozen_record_keeps_its_own_attributes() -> None:
    @rec.record(frozen=True)
    class Frozen:
        a: int

    class Cached(Frozen):
        pass

    c = Cached(1)
    c.note = "mine"  # type: ignore[attr-defined]
    assert c.note == "mine"  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        c.a = 2  # type: ignore[misc]


def test_a_record_that_holds_itself_has_a_repr() -> None:
    @rec.record
    class Loop:
        other: object = None

    loop = Loop()
    loop.other = loop
    assert repr(loop).endswith("Loop(other=...)")
