"""Read a routine file into YAML nodes that remember their line numbers.

Only node composition is used (never object construction), so a routine is
data and nothing else: Python object tags are refused, and alias "bombs" are
measured on the node graph before anything expands them.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import yaml

from voiceguide.errors import Problem, RoutineError

MAX_FILE_BYTES = 1_000_000
MAX_VALUES = 20_000  # scalars, lists and mappings after aliases are expanded
MAX_DEPTH = 32  # lists and mappings inside each other (a routine needs 6)
MAX_EXPLAINED = 500  # characters of a line the explainers read: every pattern runs on at most this
SHOWN_LINE = 120  # characters of a line a message shows, around the caret

YAML_TAG = "tag:yaml.org,2002:"  # the prefix of YAML's standard tags (!!str, !!int, ...)
ALLOWED_TAGS = frozenset(YAML_TAG + name for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp"))
# libyaml's parser when PyYAML has it (about 20 times faster); PyYAML's own parser words syntax errors better
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BOMS = (  # UTF-32 first: its little-endian mark starts like UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_nodes(path: Path, source: str) -> yaml.MappingNode:
    """Return the root node of ``path``; raise ``RoutineError`` if it is not a YAML mapping.

    ``source`` is the name used in messages (the path as the user typed it).
    """
    text = _read_text(path, source)
    if not text.strip():  # tabs alone would otherwise be a YAML syntax error
        text = ""
    try:
        try:
            root = _compose(text, source, _FAST_LOADER)
        except yaml.YAMLError:
            if _FAST_LOADER is yaml.SafeLoader:
                raise
            root = _compose(text, source, yaml.SafeLoader)  # for its message (or if only libyaml objects)
    except yaml.MarkedYAMLError as err:
        raise RoutineError([_syntax_problem(err, source, text)]) from None
    except yaml.YAMLError as err:
        raise RoutineError([Problem(source, None, "", f"YAML syntax error: {err}")]) from None
    if root is None:
        raise RoutineError([Problem(source, 1, "", "the file is empty; a routine needs at least `title` and `steps`")])
    _check_graph(root, source)
    if cut := _cut_by_comment(root, yaml_lines(text), source):
        raise RoutineError(cut)
    if not isinstance(root, yaml.MappingNode):
        raise RoutineError(
            [
                Problem(
                    source,
                    line_of(root),
                    "",
                    f"expected a group of fields (`title: ...`, `steps: ...`) at the top level, got {describe(root)}",
                )
            ]
        )
    return root


def _compose(text: str, source: str, loader: type[yaml.SafeLoader]) -> yaml.Node | None:
    """Nodes for ``text``, once ``loader`` has measured its event stream against the limits.

    Nodes are always built by the pure-Python loader: libyaml accepts a few texts it
    refuses (``{When? now}``) and marks plain texts differently, and within the limits
    building is quick.
    """
    _measure(text, source, loader)
    return yaml.compose(text, Loader=yaml.SafeLoader)


@dataclass
class _Open:
    """A list or mapping being parsed: where its values began, how deep it and what it holds reach."""

    anchor: str | None
    values_before: int
    depth: int
    deepest: int


def _measure(text: str, source: str, loader: type[yaml.SafeLoader]) -> None:
    """Enforce ``MAX_VALUES`` and ``MAX_DEPTH`` on the parser's events, before any node is built.

    Values are counted as if every alias were expanded (an alias counts what its anchor
    holds), so a "billion laughs" file stops after 20,000 values, not after expanding.
    """
    values = 0
    stack: list[_Open] = []
    anchors: dict[str, tuple[int, int]] = {}  # name -> (values, levels) once complete
    opened: dict[str, int] = {}  # name -> line, while its list or mapping is still being read
    aliased = False
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            if done.anchor is not None:
                del opened[done.anchor]
                anchors[done.anchor] = (values - done.values_before, done.deepest - done.depth + 1)
            if stack:
                stack[-1].deepest = max(stack[-1].deepest, done.deepest)
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        size, levels = 1, 0
        if isinstance(event, yaml.AliasEvent):
            aliased = True
            if event.anchor in opened:
                raise _limit(
                    source,
                    event,
                    f"a YAML alias refers to itself (*{event.anchor} is inside "
                    f"&{event.anchor}, line {opened[event.anchor]})",
                )
            size, levels = anchors.get(event.anchor or "", (1, 0))  # undefined: the composer says so
        elif isinstance(event, yaml.CollectionStartEvent):
            levels = 1
        values += size
        depth = len(stack) + levels
        if values > MAX_VALUES:
            hint = " (its YAML aliases, *name, repeat large parts of it)" if aliased else ""
            raise _limit(source, event, f"the limit is {MAX_VALUES:,} values; this file passes it on this line{hint}")
        if depth > MAX_DEPTH:
            message = f"the limit is {MAX_DEPTH} lists and mappings inside each other; this file nests {depth} here"
            raise _limit(source, event, message)
        if stack:
            stack[-1].deepest = max(stack[-1].deepest, depth)
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append(_Open(event.anchor, values - 1, depth, depth))
            if event.anchor is not None:
                opened[event.anchor] = _line(event) or 0
        elif isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
            anchors[event.anchor] = (1, 0)


def _limit(source: str, event: yaml.Event, message: str) -> RoutineError:
    return RoutineError([Problem(source, _line(event), "", message)])


def _line(event: yaml.Event) -> int | None:
    mark = event.start_mark
    return None if mark is None else int(mark.line) + 1


def _syntax_problem(err: yaml.MarkedYAMLError, source: str, text: str) -> Problem:
    """PyYAML's error in plain words: what is wrong, the line with a caret under it, and the fix.

    Lines are cut to ``MAX_EXPLAINED`` characters first, so a 1 MB key is explained as fast as a short one."""
    lines = [line[:MAX_EXPLAINED] for line in yaml_lines(text)]

    def row(index: int) -> str:
        return lines[index] if 0 <= index < len(lines) else ""

    mark, opened = err.problem_mark, err.context_mark
    context, problem = err.context or "", err.problem or ""
    at = (mark.line, mark.column) if mark else (len(lines) - 1, 0)
    what, fix = "", ""
    if "'\\t'" in problem:
        at = (at[0], max(row(at[0]).find("\t"), 0))
        what = "a tab is used here; YAML lines are indented with spaces, never tabs"
        fix = "replace the tab with spaces (2 for each level), lined up with the lines above"
    elif braced := _text_starting_with_braces(row(at[0]), at[1], context.startswith("while parsing a flow")):
        key, value = braced
        what = f"the text after `{key}:` starts with `{{`, which YAML reads as the start of a group of fields"
        fix = f"put the text in quotes: {key}: {_quoted(value)}"
        at = (at[0], row(at[0]).index(value))
    elif context.startswith("while scanning a simple key") and opened:
        glued = re.search(r"(?<![\w-])([\w-]+):(\S+)", row(opened.line)[opened.column :])
        if glued:
            at = (opened.line, opened.column + glued.start(2))
            what = f"`{glued[0]}` needs a space after the colon"
            fix = f"write `{glued[1]}: {glued[2]}`"
        else:
            at = (opened.line, opened.column)
            what = "this line is neither a `key: value` field nor part of the text above it"
            fix = "write it as `key: value`, or, if it continues the text above, put that whole text in quotes"
    elif problem == "mapping values are not allowed here":
        line = row(at[0])
        first = line.find(": ")
        if 0 <= first < at[1]:
            key, value = line[:first].strip(" -"), line[first + 1 :].strip()
            what = f"the text after `{key}:` contains `: `, which YAML reads as the start of another field"
            fix = f'put the text in quotes: {key}: "{value}"'
        else:
            what = "this line is indented more than the field above it, so YAML cannot tell where it belongs"
            fix = "indent it by the same number of spaces as the field above it"
            at = (at[0], len(line) - len(line.lstrip()))
    elif context.startswith("while scanning a quoted scalar") and opened:
        at = (opened.line, opened.column)
        quote = row(opened.line)[opened.column : opened.column + 1] or '"'
        what = f"this quote ({quote}) is never closed"
        fix = f"add the closing {quote} at the end of the text"
    elif context.startswith("while parsing a flow") and opened:
        bracket = row(opened.line)[opened.column : opened.column + 1] or "["
        closing = {"[": "]", "{": "}"}.get(bracket, "]")
        example = "[left, right]" if bracket == "[" else "{at: 10s, say: Breathe.}"
        if mark and mark.line == opened.line and closing in row(opened.line)[mark.column :]:
            what = f"inside `{bracket} {closing}`, a text with `?`, `:`, `[` or `{{` must be quoted"
            fix = 'put that text in quotes: "When?"'
        else:
            at = (opened.line, opened.column)
            what = f"this `{bracket}` is not closed on its line"
            fix = f"end it with `{closing}` on the same line (items are separated by commas: {example})"
    elif "found another document" in problem:
        what = "a routine file holds one routine, but `---` starts a second one"
        fix = "put each routine in a file of its own (or delete the `---` line)"
    elif "expected <block end>" in problem and mark:
        line = row(at[0])
        before = line[at[1] - 1 : at[1]] if at[1] else ""
        if "<scalar>" in problem and before in ("'", '"') and ": " in line:
            key, value = (part.strip(" -") for part in line.split(": ", 1))
            what = f"the quoted text ends early, at the {before} inside it"
            other = '"' if before == "'" else "'"
            name = "double" if other == '"' else "single"
            fix = f"put the text in {name} quotes: {key}: {other}{value.strip(before)}{other}"
        else:
            at = (at[0], len(line) - len(line.lstrip()))
            what = "this line's indentation does not line up with the lines above it"
            fix = "give fields of the same step the same indentation (line them up under the first field after `- `)"
    else:
        what = ", ".join(part for part in (context, problem) if part and part != "while scanning for the next token")
    return Problem(
        source, min(at[0] + 1, max(len(lines), 1)), "", f"YAML syntax error: {what}\n{excerpt(lines, *at)}", fix=fix
    )


def _text_starting_with_braces(line: str, column: int, in_flow: bool) -> tuple[str, str] | None:
    """``say: {side} arm``: a field on ``line``, before ``column``, whose unquoted text starts
    with placeholders in braces (``{side}``, never a real group like ``{at: 5s}``). Returns the
    field and its whole text."""
    rest = r"[^,{}\[\]]*" if in_flow else r".*"
    for match in re.finditer(rf"([\w-]+):[ \t]+(\{{[^{{}}:,]*\}}{rest})", line):
        if match.start(2) < column:
            return match[1], match[2].rstrip()
    return None


def _quoted(text: str) -> str:
    """``text`` in the quotes YAML reads it back from: double, unless it holds a double quote."""
    return f"'{text}'" if '"' in text and "'" not in text else '"' + text.replace('"', '\\"') + '"'


def yaml_lines(text: str) -> list[str]:
    """``text`` split where YAML counts lines (not at the form feeds ``str.splitlines`` also splits at)."""
    lines = re.split(r"\r\n|[\r\n\x85\u2028\u2029]", text)
    return lines[:-1] if len(lines) > 1 and not lines[-1] else lines


def excerpt(lines: list[str], row: int, column: int) -> str:
    """Line ``row`` (0-based) as written, with a caret under ``column``; tabs shown as →.
    A long line is shown as the ``SHOWN_LINE`` characters around the caret, cut with …."""
    if row >= len(lines):
        return f"{'':>7} | (at the end of the file)"
    line = lines[row].replace(chr(9), "→")
    start = max(0, min(column - SHOWN_LINE // 2, len(line) - SHOWN_LINE))
    shown = ("…" if start else "") + line[start : start + SHOWN_LINE] + ("…" if start + SHOWN_LINE < len(line) else "")
    return f"{row + 1:>7} | {shown}\n{'':>7} | {' ' * (column - start + bool(start))}^"


def _cut_by_comment(root: yaml.Node, lines: list[str], source: str) -> list[Problem]:
    """Plain texts followed by ``#`` and a word, such as ``say: Do set #2``: YAML drops the ``#2``."""
    found: list[Problem] = []
    seen: set[int] = set()

    def walk(node: yaml.Node, field: str = "") -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, f"{key.value}: " if isinstance(key, yaml.ScalarNode) else "")
        elif isinstance(node, yaml.ScalarNode) and node.style is None and node.end_mark.line < len(lines):
            row = lines[node.end_mark.line][: node.end_mark.column + MAX_EXPLAINED]
            cut = re.match(r"[ \t]+(#[^\s#].*)", row[node.end_mark.column :])
            if cut:
                column = node.end_mark.column + cut.start(1)
                found.append(
                    Problem(
                        source,
                        node.end_mark.line + 1,
                        "",
                        f"the text stops at ` {_clip(cut[1])}`: YAML reads everything after ` #` as a comment"
                        f"\n{excerpt(lines, node.end_mark.line, column)}",
                        fix=f'put the whole text in quotes: {field}"{_clip(f"{node.value} {cut[1]}")}"; '
                        "or, if it is a comment, write a space after the #",
                    )
                )

    walk(root)
    return found


def _clip(text: str) -> str:
    """``text`` as a message repeats it: at most ``SHOWN_LINE`` characters."""
    return text if len(text) <= SHOWN_LINE else text[: SHOWN_LINE - 1] + "…"


def _read_text(path: Path, source: str) -> str:
    """The file's text, refused before YAML sees it if it is not a small regular text file."""

    def fail(message: str, line: int | None = None) -> RoutineError:
        return RoutineError([Problem(source, line, "", message)])

    try:
        # non-blocking, so that opening a named pipe does not wait for a writer
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("cannot be read (permission denied); check the file's permissions") from None
    except OSError as err:
        raise fail(f"cannot be read: {err.strerror}") from None
    try:
        info = os.fstat(handle)
        if stat.S_ISDIR(info.st_mode):
            raise fail("is a folder, not a routine file; name the .yaml file inside it")
        if not stat.S_ISREG(info.st_mode):
            raise fail("is not a regular file (a pipe, socket or device); name a .yaml file")
        if info.st_size > MAX_FILE_BYTES:
            raise fail(f"the limit is {MAX_FILE_BYTES:,} bytes (1 MB); this file has {info.st_size:,}")
        with os.fdopen(handle, "rb", closefd=False) as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise fail(f"cannot be read: {err.strerror}") from None
    finally:
        os.close(handle)
    if len(data) > MAX_FILE_BYTES:  # it grew while we looked
        raise fail(f"the limit is {MAX_FILE_BYTES:,} bytes (1 MB); this file has more")
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8-sig")
    if encoding == "utf-8-sig" and b"\0" in data:
        raise fail("is a binary file, not a YAML routine")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        if encoding != "utf-8-sig":
            raise fail(f"starts like {encoding.upper()} text but is not; save it as UTF-8") from None
        line = data.count(b"\n", 0, err.start) + 1
        raise fail(f"is not UTF-8 text (byte 0x{data[err.start]:02x}); save it as UTF-8", line) from None
    text = text.removeprefix("\ufeff")
    if "\0" in text:
        raise fail("is a binary file, not a YAML routine")
    return text


def _check_graph(root: yaml.Node, source: str) -> None:
    """Refuse foreign tags and unpaired surrogates (sizes and depth were measured while parsing)."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in ALLOWED_TAGS:
            if node.tag == YAML_TAG + "merge":
                message = "YAML merge keys (<<) are not supported; write the fields out in full"
            else:
                message = (
                    f"YAML tag {node.tag.replace(YAML_TAG, '!!')!r} is not allowed: "
                    "a routine holds plain text, numbers, lists and groups of fields"
                )
            raise RoutineError([Problem(source, line_of(node), "", message)])
        if isinstance(node, yaml.SequenceNode):
            pending.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            pending.extend(child for pair in reversed(node.value) for child in reversed(pair))
        else:
            _join_surrogates(node, source)


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
        return "a group of fields"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == YAML_TAG + "null":
        return "nothing"
    value = str(node.value)
    return repr(value if len(value) <= 40 else value[:37] + "...")
