"""Records: classes declared as dataclasses are, built without compiling code.

``dataclasses.dataclass`` compiles an ``__init__``, ``__repr__`` and ``__eq__``
(frozen: also ``__setattr__``, ``__delattr__`` and ``__hash__``) for every class
it decorates, about 0.6 ms each here. The 19 on ``graph``'s path cost 12-16 ms
of a 140 ms run (80 M of 295 M instructions in callgrind). A record reads the same
annotations and defaults and shares one set of methods, with the dataclass
semantics this project uses: positional or keyword arguments, defaults,
``field(default_factory=...)``, ``field(repr=False, compare=False)``, frozen,
``fields()`` and ``replace()``. Type checkers see a dataclass (PEP 681).
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[Any], Any]:
        return lambda decorator: decorator


T = TypeVar("T")
R = TypeVar("R")
_NO_DEFAULT: Any = object()
_FACTORY: Any = object()


class FrozenRecordError(AttributeError):
    """An assignment to a frozen record's field."""


class Field:
    __slots__ = ("name", "default", "factory", "repr", "compare")

    def __init__(self, default: Any = _NO_DEFAULT, factory: Callable[[], Any] | None = None, repr: bool = True, compare: bool = True) -> None:
        self.name = ""
        self.default = default
        self.factory = factory
        self.repr = repr
        self.compare = compare


def field(*, default: Any = _NO_DEFAULT, default_factory: Callable[[], Any] | None = None, repr: bool = True, compare: bool = True) -> Any:
    """A field's options, as ``dataclasses.field``'s."""
    return Field(default, default_factory, repr, compare)


class _Spec:
    """One record class's fields, in order, with what its methods need precomputed."""

    __slots__ = ("fields", "names", "known", "defaults", "factories", "compared", "shown")

    def __init__(self, fields: list[Field]) -> None:
        self.fields = tuple(fields)
        self.names = tuple(f.name for f in fields)
        self.known = frozenset(self.names)
        # A required field is absent here; a factory's field holds _FACTORY until called.
        self.defaults = {f.name: _FACTORY if f.factory else f.default for f in fields if f.factory or f.default is not _NO_DEFAULT}
        self.factories = tuple((f.name, f.factory) for f in fields if f.factory)
        self.compared = tuple(f.name for f in fields if f.compare)
        self.shown = tuple(f.name for f in fields if f.repr)


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    # Dict operations in C, straight into __dict__ (also for frozen records).
    spec: _Spec = type(self).__record__
    if not kwargs and len(args) == len(spec.names):  # e.g. every IPNet: the common case
        self.__dict__.update(zip(spec.names, args))
        return
    if len(args) > len(spec.names):
        raise TypeError(f"{type(self).__name__}() takes {len(spec.names)} positional arguments but {len(args)} were given")
    values = spec.defaults.copy()
    if args:
        values.update(zip(spec.names, args))
    if kwargs:
        if not kwargs.keys() <= spec.known:
            unknown = next(k for k in kwargs if k not in spec.names)
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown!r}")
        if args and not kwargs.keys().isdisjoint(spec.names[: len(args)]):
            twice = next(k for k in spec.names[: len(args)] if k in kwargs)
            raise TypeError(f"{type(self).__name__}() got multiple values for argument {twice!r}")
        values.update(kwargs)
    if len(values) < len(spec.names):
        missing = next(n for n in spec.names if n not in values)
        raise TypeError(f"{type(self).__name__}() missing required argument: {missing!r}")
    for name, factory in spec.factories:
        if values[name] is _FACTORY:
            values[name] = factory()
    self.__dict__.update(values)


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    spec: _Spec = type(self).__record__
    return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in spec.shown)})"


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, n) for n in type(self).__record__.compared)


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    # As dataclasses: an undecorated subclass may still set attributes of its own.
    if "__record__" in type(self).__dict__ or name in type(self).__record__.known:
        raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self: Any, name: str) -> None:
    if "__record__" in type(self).__dict__ or name in type(self).__record__.known:
        raise FrozenRecordError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
    object.__delattr__(self, name)


def _own_annotations(cls: type) -> dict[str, Any]:
    own = cls.__dict__.get("__annotations__")
    if own is None and "__annotate__" in cls.__dict__:  # Python 3.14+, without the __future__ import
        own = cls.__annotations__
    return dict(own or {})


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return annotation is ClassVar or getattr(annotation, "__origin__", None) is ClassVar


def _build(cls: type[T], frozen: bool) -> type[T]:
    # What dataclasses refuse, records refuse too, rather than behave differently.
    if "__post_init__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: records do not call __post_init__")
    inherited: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        spec = getattr(base, "__record__", None)
        if spec is None:
            continue
        if base.__dict__.get("__setattr__") is _frozen_setattr and not frozen:
            raise TypeError(f"{cls.__name__}: a mutable record cannot inherit from the frozen {base.__name__}")
        if frozen and "__record__" in base.__dict__ and base.__dict__.get("__setattr__") is not _frozen_setattr:
            raise TypeError(f"{cls.__name__}: a frozen record cannot inherit from the mutable {base.__name__}")
        for f in spec.fields:
            inherited[f.name] = f
    for name, annotation in _own_annotations(cls).items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, _NO_DEFAULT)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        if f.default is not _NO_DEFAULT and f.factory is not None:
            raise ValueError(f"{cls.__name__}.{name}: give a default or a default_factory, not both")
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(f"{cls.__name__}.{name}: a mutable default is shared by every record; use field(default_factory=...)")
        if isinstance(value, Field):
            if f.default is _NO_DEFAULT:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
        inherited[name] = f  # a redefined field keeps its base's place, as with dataclasses
    for name, value in cls.__dict__.items():
        if isinstance(value, Field) and name not in inherited:
            raise TypeError(f"{cls.__name__}.{name}: a field() needs an annotation")
    fields = list(inherited.values())
    seen_default = False
    for f in fields:
        has_default = f.default is not _NO_DEFAULT or f.factory is not None
        if seen_default and not has_default:
            raise TypeError(f"{cls.__name__}: non-default argument {f.name!r} follows default argument")
        seen_default |= has_default
    cls.__record__ = _Spec(fields)  # type: ignore[attr-defined]
    # As dataclasses: a method the class writes itself (a redacting __repr__) is kept.
    own = cls.__dict__
    explicit_hash = own.get("__hash__", None) is not None or ("__hash__" in own and "__eq__" not in own)
    for name, method in (("__init__", _init), ("__repr__", _repr), ("__eq__", _eq)):
        if name not in own:
            setattr(cls, name, method)
    if "__match_args__" not in own:
        setattr(cls, "__match_args__", tuple(f.name for f in fields))  # noqa: B010  (mypy refuses the attribute)
    if frozen:
        if "__setattr__" in own or "__delattr__" in own:
            raise TypeError(f"{cls.__name__}: a frozen record cannot define __setattr__ or __delattr__")
        cls.__setattr__ = _frozen_setattr  # type: ignore[assignment,method-assign]
        cls.__delattr__ = _frozen_delattr  # type: ignore[assignment,method-assign]
    if not explicit_hash:
        # Compared by value: hashable only when frozen.
        cls.__hash__ = _hash if frozen else None  # type: ignore[assignment,method-assign]
    return cls


@overload
def record(cls: type[T], /) -> type[T]: ...
@overload
def record(*, frozen: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    """The class decorator: ``@record`` or ``@record(frozen=True)``."""
    if cls is None:
        return lambda c: _build(c, frozen)
    return _build(cls, frozen)


def fields(obj: object) -> tuple[str, ...]:
    """A record's (or record class's) field names, in order."""
    return obj.__record__.names  # type: ignore[attr-defined, no-any-return]


def replace(obj: R, /, **changes: Any) -> R:
    """A copy of ``obj`` with ``changes``, as ``dataclasses.replace``."""
    values = {n: getattr(obj, n) for n in fields(obj)}
    values.update(changes)
    return type(obj)(**values)
