"""Read a routine file into YAML nodes that remember their line numbers.

Only node composition is used (never object construction), so a routine is
data and nothing else: Python object tags are refused, and alias "bombs" are
measured on the node graph before anything expands them.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .errors import Problem, RoutineError

MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 20_000  # scalars, lists and mappings after aliases are expanded

_TAG = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(_TAG + name for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp"))


def read_nodes(path: Path, source: str) -> yaml.MappingNode:
    """Return the root node of ``path``; raise ``RoutineError`` if it is not a YAML mapping.

    ``source`` is the name used in messages (the path as the user typed it).
    """
    text = _read_text(path, source)
    if not text.strip():  # tabs alone would otherwise be a YAML syntax error
        text = ""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        raise RoutineError([_syntax_problem(err, source, max(1, len(text.splitlines())))]) from None
    except yaml.YAMLError as err:
        raise RoutineError([Problem(source, None, "", f"YAML syntax error: {err}")]) from None
    if root is None:
        raise RoutineError([Problem(source, 1, "", "the file is empty; a routine needs at least `title` and `steps`")])
    _check_graph(root, source)
    if not isinstance(root, yaml.MappingNode):
        raise RoutineError(
            [
                Problem(
                    source,
                    line_of(root),
                    "",
                    f"expected a mapping (`title: ...`, `steps: ...`) at the top level, got {describe(root)}",
                )
            ]
        )
    return root


def _syntax_problem(err: yaml.MarkedYAMLError, source: str, last_line: int) -> Problem:
    """PyYAML's error as one line: what it was reading, what went wrong, and where."""
    mark, opened = err.problem_mark, err.context_mark
    line = min(mark.line + 1, last_line) if mark else None
    context = err.context if err.context != "while scanning for the next token" else None
    what = ", ".join(part for part in (context, err.problem) if part)
    where = f" (column {mark.column + 1})" if mark and mark.line + 1 <= last_line else " (at the end of the file)"
    if context and context.startswith("while") and opened and mark and opened.line != mark.line:
        where += f"; it started on line {opened.line + 1}"
    return Problem(source, line, "", f"YAML syntax error: {what}{where}")


def _read_text(path: Path, source: str) -> str:
    def fail(message: str, line: int | None = None) -> RoutineError:
        return RoutineError([Problem(source, line, "", message)])

    if path.is_dir():
        raise fail("is a folder, not a routine file; name the .yaml file inside it")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("cannot be read (permission denied); check the file's permissions") from None
    except OSError as err:
        raise fail(f"cannot be read: {err.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise fail(f"is larger than {MAX_FILE_BYTES // 1_000_000} MB; a routine is a short text file")
    if b"\0" in data:
        raise fail("is a binary file, not a YAML routine")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise fail(f"is not UTF-8 text (byte 0x{data[err.start]:02x}); save it as UTF-8", line) from None


def _check_graph(root: yaml.Node, source: str) -> None:
    """Refuse foreign tags, recursive aliases and documents that expand too far."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise RoutineError([Problem(source, line_of(node), "", "a YAML alias refers to itself")])
        if node.tag not in ALLOWED_TAGS:
            if node.tag == _TAG + "merge":
                message = "YAML merge keys (<<) are not supported; write the fields out in full"
            else:
                message = (
                    f"YAML tag {node.tag.replace(_TAG, '!!')!r} is not allowed: "
                    "a routine holds plain text, numbers, lists and mappings"
                )
            raise RoutineError([Problem(source, line_of(node), "", message)])
        active.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
            _join_surrogates(node, source)
        active.discard(key)
        sizes[key] = total
        return total

    total = size(root)
    if total > MAX_VALUES:
        raise RoutineError(
            [
                Problem(
                    source,
                    None,
                    "",
                    f"the document expands to {total:,} values (limit {MAX_VALUES:,}); "
                    "are YAML aliases (*name) repeating a large part of it?",
                )
            ]
        )


def _join_surrogates(node: yaml.Node, source: str) -> None:
    """PyYAML reads JSON-style escapes like ``"\\ud83d\\ude42"`` (one emoji) as two unpaired halves,
    which no engine or tag writer can encode: join the pairs, refuse a lone half."""
    value = node.value
    if not isinstance(value, str) or value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            node.value = value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            message = "has a \\u escape that is half of a character (a lone surrogate); write the character itself"
            raise RoutineError([Problem(source, line_of(node), "", message)]) from None


def line_of(node: yaml.Node) -> int:
    """1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def describe(node: yaml.Node) -> str:
    """How a value reads in an "expected X, got Y" message."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == _TAG + "null":
        return "nothing"
    value = str(node.value)
    return repr(value if len(value) <= 40 else value[:37] + "...")
