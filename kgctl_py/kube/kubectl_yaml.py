"""kubectl's YAML (``kubectl get -o yaml``), read fast and exactly as PyYAML's safe loader reads it.

kubectl writes YAML with go-yaml v2 (sigs.k8s.io/yaml): block mappings and
sequences (a sequence under a key at the key's own column), 2-space indents,
plain, single- and double-quoted scalars, ``|`` literals for text with line
breaks, ``{}`` and ``[]``, and long scalars folded onto continuation lines at
about 80 columns.  PyYAML, even with libyaml's parser, builds a node object per
scalar and runs its constructor in Python: about 28 s and 1.3 GB for a 50 MB
dump.  This reader takes about 1.2 s and little more memory than the objects
it returns (bench/bench_snapshot.py).

The text is cut at its column-0 lines: each item of the List (``- apiVersion:
...`` under ``items:``) and each top-level key is a piece.  A piece the reader
does not know for certain (``Unsupported``: anchors, tags, flow collections,
comments, floats, dates, ...) is read by PyYAML alone, so one odd node costs
only itself.  When the pieces do not fit together, or PyYAML rejects one, the
whole text goes to PyYAML: its error names the right line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from kgctl_py.kube.decode import MAX_DIGITS, NUMBER_TOO_LONG
from kgctl_py.kube.fastyaml import Unsupported

_LOADER: Any = type("_Loader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), {})


def _bounded_int(loader: Any, node: Any) -> int:
    """PyYAML's int, refused past MAX_DIGITS as int() refuses decimal text: its 0x, 0o
    and 1:20 forms skip that bound (1:20:... costs quadratic time), and no str() prints what they build."""
    if len(node.value) > MAX_DIGITS:
        raise ValueError(NUMBER_TOO_LONG)
    value: int = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    if value.bit_length() > MAX_DIGITS * 3.32:  # log2(10) bits per digit
        raise ValueError(NUMBER_TOO_LONG)
    return value


_LOADER.add_constructor("tag:yaml.org,2002:int", _bounded_int)


class _Whole(Exception):
    """The text must be read by PyYAML as a whole."""


# --- plain scalars: PyYAML's own resolver table, so "yes", "0x1F", "1:20",
# "2024-01-01" and ".inf" mean here what they mean there ------------------------

_TABLE = yaml.resolver.Resolver.yaml_implicit_resolvers
_WILD = list(_TABLE.get(None, []))
_RESOLVERS = {first: list(rs) + _WILD for first, rs in _TABLE.items() if first is not None}
_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]{0,999})")  # int() of these is what PyYAML's int constructor gives
_BOOLS = {"yes": True, "no": False, "true": True, "false": False, "on": True, "off": False}
# What a plain scalar may not start with (PyYAML's check_plain, block context);
# "-", "?" and ":" may, when a non-space follows.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@` ")


def _resolve(text: str) -> Any:
    """A plain scalar's value, or Unsupported for the types this reader leaves to PyYAML."""
    tag = next((tag for tag, regexp in _RESOLVERS.get(text[0], _WILD) if regexp.match(text)), _STR)
    if tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOLS[text.lower()]
    if tag == _INT and _DECIMAL.fullmatch(text):
        return int(text)
    raise Unsupported("a float, date, octal, hexadecimal, sexagesimal or merge key")


def _plain_ok(text: str) -> bool:
    """Whether ``text`` (one line, stripped) is read by PyYAML as one whole plain scalar."""
    first = text[0]
    if first in _INDICATORS and not (first in "-?:" and len(text) > 1 and text[1] != " "):
        return False
    return ": " not in text and " #" not in text and text[-1] not in ": "


def _key(text: str, keys: dict[str, str]) -> str:
    if text in keys:
        return keys[text]
    # PyYAML refuses a simple key longer than 1024 characters.
    if not text or len(text) > 1000 or not _plain_ok(text) or not isinstance(_resolve(text), str):
        raise Unsupported("a key this reader does not know how to resolve")
    keys[text] = text  # one str object per distinct key, as json.loads does
    return text


# --- structure ------------------------------------------------------------------------------

# One loop over the lines with an explicit stack: no call per line or per
# collection, and no recursion (the depth is decode.check_depth's to bound).
# Each distinct line is taken apart once, into an "op": a dump repeats most
# of its lines (managedFields, images, conditions) from node to node.

_Frame = tuple[Any, int, bool, bool]  # a collection, its column, whether a list, whether indentless
# An op: (indentation, kind, key, value, the plain scalar's text or None).
_Op = tuple[int, int, Any, Any, "str | None"]
_BLANK = -1
# "key: value", "key:", "key: {}", "key: []", any other "key: ..."
_KEY_VALUE, _KEY_OPEN, _KEY_DICT, _KEY_LIST, _KEY_OTHER = range(5)
# A line this reader cannot read as a key or an item (a folded scalar's next line, or not ours).
_INVALID = 5
# "- value", "-", "- key: value", "- key:", any other "- ..." (all > _INVALID)
_ITEM, _ITEM_OPEN, _ITEM_KEY_VALUE, _ITEM_KEY_OPEN, _ITEM_OTHER = range(6, 11)
_BLANK_OP: _Op = (-1, _BLANK, None, None, None)
_OPS_KEPT = 250_000  # distinct lines remembered (about 60 MB at most)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _simple(rest: str) -> tuple[bool, Any, str | None]:
    """Whether ``rest`` (after ``key: `` or ``- ``) is a one-line scalar, its value, and its text if plain."""
    first = rest[0]
    if first == "'":
        body = rest[1:-1]
        if len(rest) > 1 and rest[-1] == "'" and "'" not in body.replace("''", ""):
            return True, body.replace("''", "'"), None
        return False, None, None
    if first == '"':
        body = rest[1:-1]
        if len(rest) > 1 and rest[-1] == '"' and '"' not in body and "\\" not in body:
            return True, body, None
        return False, None, None
    if first in _INDICATORS and not (first in "-?:" and len(rest) > 1 and rest[1] != " "):
        return False, None, None
    if ": " in rest or " #" in rest or rest[-1] in ": ":
        raise Unsupported("a plain scalar PyYAML reads as something else")
    return True, _resolve(rest), rest


def _quoted_key(content: str) -> tuple[str, str] | None:
    """A quoted key (go-yaml quotes keys such as "1" or "a: b") and what follows its ``: ``; None if not one."""
    quote = content[0]
    close = _closing_quote(content, 1, quote)
    if close < 0 or not content.startswith(":", close + 1) or content[close + 2 : close + 3] not in ("", " "):
        return None
    body = content[1:close]
    if quote == '"' and "\\" in body or close > 1000:
        raise Unsupported("a quoted key with escapes, or a long one")
    return body.replace("''", "'") if quote == "'" else body, content[close + 3 :]


def _item_kind(rest: str) -> int:
    """What follows "- ": a scalar (_ITEM), a key (_ITEM_KEY_VALUE), or a sequence (_ITEM_OPEN)."""
    first = rest[0]
    if first == "-" and (len(rest) == 1 or rest[1] == " "):
        return _ITEM_OPEN
    if first in "'\"":
        return _ITEM if _quoted_key(rest) is None else _ITEM_KEY_VALUE
    if first in "|{[ " or not (": " in rest or rest[-1] == ":"):
        return _ITEM
    return _ITEM_KEY_VALUE


def _op(line: str, keys: dict[str, str]) -> _Op:
    """What one line says, on its own (``Unsupported`` if it cannot be read here at all).

    For the kinds read by the slow path (_KEY_OTHER, _ITEM_OTHER) the value is the
    text after ``key: `` or ``- ``.
    """
    content = line.lstrip(" ")
    if not content:
        return _BLANK_OP
    n = len(line) - len(content)
    try:
        return _read_op(line, content, n, keys)
    except Unsupported:
        return (n, _INVALID, None, None, None)


def _read_op(line: str, content: str, n: int, keys: dict[str, str]) -> _Op:
    item = content[0] == "-" and (len(content) == 1 or content[1] == " ")
    if item:
        rest = content[2:]
        if not rest:
            return (n, _ITEM_OPEN, None, None, None)
        kind = _item_kind(rest)
        if kind == _ITEM:
            ok, value, plain = _simple(rest)
            if ok:
                return (n, _ITEM, None, value, plain)
        if kind != _ITEM_KEY_VALUE:
            return (n, _ITEM_OTHER, None, rest, None)
        content = rest  # "- key: ...": the key line of the item's mapping
    if content[0] in "'\"":
        quoted = _quoted_key(content)
        if quoted is None:
            raise Unsupported("a line that is not a key")
        key, rest = quoted  # not in ``keys``: the text "1" quoted is a str, plain it is an int
    else:
        colon = content.find(": ")
        if colon < 0:
            if content[-1] != ":":
                raise Unsupported("a line that is not a key")
            text, rest = content[:-1], ""
        else:
            text, rest = content[:colon], content[colon + 2 :]
        key = keys.get(text) or _key(text, keys)
    if not rest:
        return (n, _ITEM_KEY_OPEN if item else _KEY_OPEN, key, None, None)
    if not item and rest in ("{}", "[]"):
        return (n, _KEY_DICT if rest == "{}" else _KEY_LIST, key, None, None)
    ok, value, plain = _simple(rest)
    if ok:
        return (n, _ITEM_KEY_VALUE if item else _KEY_VALUE, key, value, plain)
    if item:
        return (n, _ITEM_OTHER, None, line[n + 2 :], None)
    return (n, _KEY_OTHER, key, rest, None)


def _parse(lines: list[str], root: Any) -> Any:
    """Read one piece's ``lines`` into ``root``: an empty list for a ``- `` piece, else an empty dict.

    A sequence that is a key's value may sit at the key's column (indentless:
    go-yaml writes them so); it ends at the next line there that is not an item.
    """
    keys, ops = _keys, _ops
    get = ops.get
    # Local names for the kinds: the loop runs once per line of a 50 MB dump.
    key_value, key_dict, key_open, key_list, key_other = _KEY_VALUE, _KEY_DICT, _KEY_OPEN, _KEY_LIST, _KEY_OTHER
    an_item, item_key_open, item_key_value, item_open, item_other = _ITEM, _ITEM_KEY_OPEN, _ITEM_KEY_VALUE, _ITEM_OPEN, _ITEM_OTHER
    stack: list[_Frame] = []
    top: Any = root
    col = 0
    seq = isinstance(root, list)
    indentless = False
    # A "key:" or "-" with nothing after it: its holder, slot, column, whether a key.
    pending: tuple[Any, Any, int, bool] | None = None
    # Lines before this one were read as part of a scalar that spans lines.
    spanned = 0
    end = len(lines)
    i = 0
    while i < end:
        line = lines[i]
        i += 1
        op = get(line)
        if op is None:
            op = _op(line, keys)
            if len(ops) >= _OPS_KEPT:
                ops.clear()
            ops[line] = op
        n, kind, key, value, _ = op
        if pending is not None or n != col or indentless:
            # Not the next line of the same collection (blank lines have column -1).
            if kind == _BLANK:
                continue
            item = kind > _INVALID
            if pending is not None:
                holder, slot, at, is_key = pending
                pending = None
                # The block under "key:" or "-": deeper, or (a key's) a sequence at the key's column.
                if n > at or (n == at and item and is_key):
                    new: Any = [] if item else {}
                    holder[slot] = new
                    stack.append((top, col, seq, indentless))
                    top, col, seq, indentless = new, n, item, n == at
            if n > col:
                # Deeper than the last line's collection: a plain scalar folded onto this line, or not ours.
                i = _unfold(lines, i - 1, col, top, spanned)
                spanned = i
                continue
            while n < col or (n == col and indentless and not item):
                top, col, seq, indentless = stack.pop()
            if n != col:
                raise Unsupported("a line between the columns of two collections")
        # By how often each comes in a dump.
        if kind == key_value:
            if seq:
                raise Unsupported("a key at a sequence's column")
            top[key] = value
        elif kind == an_item:
            if not seq:
                raise Unsupported("an item at a mapping's column")
            top.append(value)
        elif kind == key_dict:
            if seq:
                raise Unsupported("a key at a sequence's column")
            top[key] = {}
        elif kind == item_key_open or kind == item_key_value:
            # "- key: ...": a mapping whose keys line up with this first key.
            if not seq:
                raise Unsupported("an item at a mapping's column")
            new = {key: value}
            top.append(new)
            stack.append((top, col, seq, indentless))
            top, col, seq, indentless = new, col + 2, False, False
            if kind == item_key_open:
                pending = (top, key, col, True)
        elif kind == key_open:
            if seq:
                raise Unsupported("a key at a sequence's column")
            top[key] = None
            pending = (top, key, col, True)
        elif kind == key_list:
            if seq:
                raise Unsupported("a key at a sequence's column")
            top[key] = []
        elif kind == item_open:
            if not seq:
                raise Unsupported("an item at a mapping's column")
            top.append(None)
            pending = (top, len(top) - 1, col, False)
        elif kind == item_other:
            # "- - x" and "- key: ..." with a value below: the collection begins at
            # the column after the dash, and the rest of the line is read as its first line.
            if not seq:
                raise Unsupported("an item at a mapping's column")
            rest = value
            inner = _item_kind(rest)
            if inner == an_item:
                if rest[0] == " ":
                    raise Unsupported("an item indented by more than one space")
                value, i = _scalar(rest, lines, i, col)
                top.append(value)
                spanned = i
                continue
            new = [] if inner == item_open else {}
            top.append(new)
            stack.append((top, col, seq, indentless))
            top, col, seq, indentless = new, col + 2, inner == item_open, False
            i -= 1
            lines[i] = " " * col + rest
        elif kind == key_other:
            # "key: ..." with a block scalar, or a quoted one with escapes or over several lines.
            if seq:
                raise Unsupported("a key at a sequence's column")
            top[key], i = _scalar(value, lines, i, col)
            spanned = i
        else:
            raise Unsupported("a line that is neither a key nor an item")
    return root


def _unfold(lines: list[str], i: int, col: int, top: Any, spanned: int) -> int:
    """Line ``i`` continues the plain scalar on line ``i - 1`` (go-yaml folds long ones at a space).

    Sets the scalar in ``top`` and returns the line after it; ``Unsupported`` if
    line ``i`` is anything else.
    """
    if i - 1 < spanned:
        raise Unsupported("a line deeper than its collection")
    n, kind, key, _, plain = _op(lines[i - 1], {})
    if plain is None or not (kind in (_KEY_VALUE, _ITEM_KEY_VALUE) and isinstance(top, dict) or kind == _ITEM and isinstance(top, list)):
        raise Unsupported("a line deeper than its collection")
    parts = [plain]
    while i < len(lines):
        line = lines[i]
        part = line.strip(" ")
        if not part:
            raise Unsupported("a blank line in or after a folded plain scalar")
        if _indent(line) <= col:
            break
        # Any text but a comment continues it; ": " or " #" would end it.
        if part[0] == "#" or ": " in part or " #" in part or part[-1] == ":":
            raise Unsupported("a continued plain scalar with indicators")
        parts.append(part)
        i += 1
    value = _resolve(" ".join(parts))
    if kind == _ITEM:
        top[-1] = value
    else:
        top[key] = value
    return i


# --- scalars ------------------------------------------------------------------------------


def _scalar(rest: str, lines: list[str], i: int, col: int) -> tuple[Any, int]:
    """A value that is not a one-line scalar (see ``_simple``), starting with ``rest``, in a collection at ``col``.

    ``i`` is the line after; returns the value and the line after it.
    """
    first = rest[0]
    if first in "'\"":
        return _quoted(rest, lines, i, col)
    if first == "|":
        return _literal(rest, lines, i, col)
    if rest == "{}":
        return {}, i
    if rest == "[]":
        return [], i
    raise Unsupported("flow collections, anchors, aliases, tags, folded (>) scalars")


def _closing_quote(line: str, start: int, quote: str) -> int:
    """The index of the quote that closes a scalar in ``line`` from ``start``, or -1."""
    while True:
        q = line.find(quote, start)
        if q < 0:
            return -1
        if quote == "'":
            if line.startswith("''", q):
                start = q + 2
                continue
            return q
        slashes = 0
        while q - slashes - 1 >= start and line[q - slashes - 1] == "\\":
            slashes += 1
        if slashes % 2 == 0:
            return q
        start = q + 1


def _quoted(rest: str, lines: list[str], i: int, col: int) -> tuple[str, int]:
    """A quoted scalar with escapes or folded across lines: PyYAML reads just its text.

    Rare in kubectl's output (control characters, long strings with spaces), so
    exactness beats speed here: the scalar alone is a document of its own.
    """
    quote = rest[0]
    source = [rest]
    close = _closing_quote(rest, 1, quote)
    while close < 0:
        if i >= len(lines):
            raise Unsupported("an unterminated quoted scalar")
        line = lines[i]
        if line.strip(" ") and _indent(line) <= col:
            raise Unsupported("a quoted scalar continued at its parent's column")
        source.append(line)
        close = _closing_quote(line, 0, quote)
        i += 1
    if close != len(source[-1]) - 1:
        raise Unsupported("text after a quoted scalar")
    try:
        value = yaml.load("\n".join(source), Loader=_LOADER)
    except yaml.YAMLError:
        raise Unsupported("a quoted scalar PyYAML rejects (its error needs the whole text's line)") from None
    if not isinstance(value, str):
        raise Unsupported("a quoted scalar PyYAML does not read as a string")
    return value, i


def _next_content(lines: list[str], i: int) -> int:
    """The first line at or after ``i`` that is not blank."""
    end = len(lines)
    while i < end and not lines[i].strip(" "):
        i += 1
    return i


_LITERAL_HEADER = re.compile(r"\|(?:([+-]?)([1-9]?)|([1-9])([+-]))")


def _literal(header: str, lines: list[str], i: int, col: int) -> tuple[str, int]:
    """A ``|`` block scalar, by PyYAML's rules (scan_block_scalar)."""
    m = _LITERAL_HEADER.fullmatch(header)
    if m is None:
        raise Unsupported("a block scalar header with a comment or a folded (>) scalar")
    chomp = m.group(1) or m.group(4) or ""
    increment = m.group(2) or m.group(3)
    min_indent = col + 1
    end = len(lines)
    first = _next_content(lines, i)
    if increment:
        indent = min_indent + int(increment) - 1
    else:
        # The deepest of the leading blank lines and the first text line.
        indent = max([min_indent, *(len(lines[k]) for k in range(i, first))])
        if first < end:
            if _indent(lines[first]) < indent:
                raise Unsupported("a block scalar with no text, or less indented than its blank lines")
            indent = _indent(lines[first])
    pad = " " * indent
    text: list[str] = []
    breaks = 0
    content = False
    while i < end:
        line = lines[i]
        if len(line) <= indent and not line.strip(" "):
            breaks += 1  # a line break; a blank line longer than the indent is text (spaces)
        elif line.startswith(pad):
            if content:
                text.append("\n" * (breaks + 1))
            elif breaks:
                text.append("\n" * breaks)
            text.append(line[indent:])
            content, breaks = True, 0
        else:
            break
        i += 1
    if chomp != "-" and content:
        text.append("\n")
    if chomp == "+":
        text.append("\n" * breaks)
    return "".join(text), i


# --- pieces ------------------------------------------------------------------------------

# The start of a column-0 line: where the text is cut into pieces.
_PIECE = re.compile(r"\n(?=[^ \n])")
# Line breaks other than \n (PyYAML honours them) and a byte-order mark: read whole.
_ODD_BREAKS = ("\r", "\x85", "\u2028", "\u2029", "\ufeff")
# What PyYAML refuses to read; checked per piece, as bytes when ASCII (fast).
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\n"
_NON_PRINTABLE = re.compile("[^\x0a\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_ANCHOR = re.compile(r"(?:^|[ \[{,])&", re.M)
_NOT_A_START = frozenset(" \t\n#?:,[]{}&*!|>%@`")

_keys: dict[str, str] = {}
_ops: dict[str, _Op] = {}


def _lines(piece: str) -> list[str]:
    if "\t" in piece:
        raise Unsupported("a tab")
    if piece.isascii():
        if piece.encode("ascii").translate(None, _PRINTABLE_ASCII):
            raise Unsupported("a control character")
    elif _NON_PRINTABLE.search(piece):
        raise Unsupported("a character PyYAML does not accept")
    if not piece.endswith("\n"):
        raise Unsupported("the text's last line has no line break")
    lines = piece.split("\n")
    lines.pop()
    return lines


def _by_pyyaml(piece: str) -> Any:
    """A piece the fast reader left: PyYAML reads it alone (an error: the whole text, for its line number).

    Not with an anchor that may be one: anchors and aliases reach across
    pieces (and one defined twice is an error only in the whole text).
    """
    if _ANCHOR.search(piece):
        raise _Whole()
    try:
        return yaml.load(piece, Loader=_LOADER)
    except yaml.YAMLError:
        raise _Whole() from None


def _refuse(piece: str) -> Any:
    raise Unsupported("a piece the fast reader leaves to PyYAML")


_Fallback = Callable[[str], Any]


def _item(piece: str, fallback: _Fallback) -> Any:
    """One ``- ...`` piece: the item it holds."""
    try:
        value = _parse(_lines(piece), [])
        if len(value) == 1:
            return value[0]
    except Unsupported:
        pass
    value = fallback(piece)
    if not isinstance(value, list) or len(value) != 1:
        raise _Whole()
    return value[0]


def _entry(piece: str, fallback: _Fallback) -> tuple[Any, Any, bool]:
    """One ``key: ...`` piece: its key, its value, and whether it is a bare ``key:`` (items may follow)."""
    try:
        lines = _lines(piece)
        value = _parse(lines, {})
        if len(value) == 1:
            ((key, item),) = value.items()
            bare = item is None and lines[0].endswith(":") and not any(line.strip(" ") for line in lines[1:])
            return key, item, bare
    except Unsupported:
        pass
    value = fallback(piece)
    if not isinstance(value, dict) or len(value) != 1:
        raise _Whole()
    ((key, item),) = value.items()
    return key, item, False


def _pieces(text: str) -> Iterator[str]:
    """The text cut before each column-0 line; leading blank lines and a first ``---`` dropped."""
    start, leading, marker = 0, True, False
    for m in _PIECE.finditer(text):
        piece = text[start : m.end()]
        start = m.end()
        if leading and not marker and piece == "---\n":
            marker = True
            continue
        if leading and not piece.strip(" \n"):
            continue
        leading = False
        yield piece
    yield text[start:]


def _load_pieces(text: str, fallback: _Fallback) -> Any:
    global _keys, _ops
    if "\r" in text:
        # A dump saved on Windows: PyYAML reads "\r\n" as one line break, as "\n".
        text = text.replace("\r\n", "\n")
    if any(ch in text for ch in _ODD_BREAKS):
        raise _Whole()
    _keys, _ops = {}, {}
    try:
        doc: Any = None
        items: list[Any] | None = None  # where "- " pieces go
        bare: Any = None  # a top-level key with no value yet, which items may fill
        for piece in _pieces(text):
            # A piece is read alone as it reads in the text only if it starts with a key or
            # an item: not with an indented line, a comment, "? " or ": ", a flow collection,
            # an anchor, a tag, a directive, another document, or nothing.
            if not piece or piece[0] in _NOT_A_START or piece.startswith(("---", "...")):
                raise _Whole()
            if piece[0] == "-" and piece[1:2] in (" ", "\n"):
                if doc is None:
                    doc = items = []
                elif items is None:
                    if bare is None:
                        raise _Whole()
                    doc[bare[0]] = items = []
                    bare = None
                items.append(_item(piece, fallback))
                continue
            if doc is None:
                doc = {}
            elif isinstance(doc, list):
                raise _Whole()
            key, value, is_bare = _entry(piece, fallback)
            doc[key] = value
            items = None
            bare = (key,) if is_bare else None
        return doc
    finally:
        _keys, _ops = {}, {}


def load(text: str) -> Any:
    """The document in ``text``, as ``yaml.load(text, CSafeLoader)`` gives it; raises what that raises."""
    try:
        return _load_pieces(text, _by_pyyaml)
    except _Whole:
        return yaml.load(text, Loader=_LOADER)


def read_fast(text: str) -> Any:
    """What ``load`` gives, read by the fast reader alone: ``Unsupported`` where ``load`` would ask PyYAML.

    For tests and measurements: it shows what the fast path covers.
    """
    try:
        return _load_pieces(text, _refuse)
    except _Whole:
        raise Unsupported("pieces that do not fit together, or odd line breaks") from None
