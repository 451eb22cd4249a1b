"""The kinds of value a schema field takes: text, numbers, durations, choices, lists.

Each turns a YAML node into a value, or raises ``Invalid`` saying what was expected.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import yaml

from voiceguide.durations import (
    DURATION_EXAMPLES,
    DURATION_HINT,
    duration_in_words,
    duration_pattern,
    format_span,
    parse_duration,
)
from voiceguide.errors import Problem
from voiceguide.files import hidden
from voiceguide.routine.source import YAML_TAG, describe, line_of
from voiceguide.suggest import did_you_mean

T = TypeVar("T")
JSON = dict[str, Any]


class Invalid(Exception):
    """A value does not fit its field; the message says what was expected."""


def join(path: str, key: str | int) -> str:
    """Field paths as messages show them: ``steps[2].hold``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


@dataclass
class Context:
    """Where problems are collected while one file is checked."""

    source: str
    trusted: tuple[Path, ...] = ()  # folders besides the routine's own that its files may come from
    max_ms: int = 4 * 3_600_000  # the longest track allowed (`--max-length`)
    problems: list[Problem] = field(default_factory=list)

    def report(self, line: int | None, path: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(self.source, line, path, message, fix=fix))


def matching(pattern: str, expected: str) -> JSON:
    """JSON Schema for text that matches ``pattern``; editors say "expected ..." when it does not.

    ``patternErrorMessage`` is an extension that VS Code and yaml-language-server read;
    validators that do not know it ignore it.
    """
    return {"type": "string", "pattern": pattern, "patternErrorMessage": f"expected {expected}"}


class Kind(Generic[T]):
    """A field type: turns a node into a value or raises ``Invalid``."""

    expected: str = "a value"
    plural: str = ""  # how several read in "a list of ..." when not like ``expected``
    noun: str = "item"  # one of several in a list, as a fix names it
    group: ClassVar[bool] = False  # a group of fields (schema.Nested), so a list of them reads as such

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> T:
        raise NotImplementedError

    def json(self, defs: JSON) -> JSON:
        """This kind as JSON Schema; the schemas of nested mappings go into ``defs``."""
        raise NotImplementedError

    def summary(self) -> str:
        """The values this kind takes, as the reference tables say it."""
        return self.expected

    def fail(self, node: yaml.Node, extra: str = "") -> Invalid:
        return Invalid(f"expected {self.expected}, got {describe(node)}{extra}")

    def scalar(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag == YAML_TAG + "null":
            raise self.fail(node)
        return str(node.value)


def hidden_character(text: str) -> str | None:
    """What is wrong if ``text`` holds a control character (a terminal escape, NUL, ...), a bidi
    override or another invisible format character: they would reach tags, feeds, file names and
    terminals unseen. ``None`` if it holds none."""
    for index, character in enumerate(text):
        if not hidden(character):
            continue
        kind = unicodedata.category(character)
        code = f"U+{ord(character):04X}" + (f" {unicodedata.name(character, '')}".rstrip() if kind == "Cf" else "")
        where = f" after {text[max(0, index - 20) : index]!r}" if index else " at its start"
        what = "a control character" if kind == "Cc" else "an invisible character"
        return (
            f"text contains {what} ({code}){where}; delete it, or retype the text "
            "(such characters come with text copied from other programs, and would show or act differently)"
        )
    return None


def visible(text: str) -> str:
    """``text`` with every character ``hidden_character`` refuses shown as �, for messages."""
    return "".join("\ufffd" if hidden(c) else c for c in text)


class Text(Kind[str]):
    """Text with at least one letter or digit (nothing to say is not a text); numbers are
    accepted as their written form."""

    expected = "text"

    def __init__(self, max_length: int = 2000) -> None:
        self.max_length = max_length

    def json(self, defs: JSON) -> JSON:
        # \S: not only spaces (JSON Schema patterns are unanchored searches)
        return {"minLength": 1, "maxLength": self.max_length, **matching(r"\S", "text, not only spaces")}

    def summary(self) -> str:
        return f"text, up to {self.max_length} characters"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> str:
        if braces := placeholders_read_as_fields(node):
            key = path.rsplit(".", 1)[-1]
            raise Invalid(
                f"a text that starts with `{{` needs quotes, or YAML reads {braces} as a group of fields; "
                f'write {key}: "{braces}"'
            )
        written = self.scalar(node)
        if problem := hidden_character(written):
            raise Invalid(problem)
        text = " ".join(written.split())
        if not text:
            raise Invalid("expected text, got an empty string")
        if not any(character.isalnum() for character in text):
            raise Invalid(f"expected text with at least one letter or digit, got {describe(node)}")
        if len(text) > self.max_length:
            raise Invalid(
                f"text is {len(text):,} characters long; keep it to {self.max_length:,} at most "
                "(split a long instruction into several steps)"
            )
        return text


def placeholders_read_as_fields(node: yaml.Node) -> str:
    """``{side}`` as YAML reads an unquoted text that is only placeholders: a group of fields with
    no values. Returns it as written, or ``""`` for any other node."""
    if not isinstance(node, yaml.MappingNode) or not node.flow_style or not node.value:
        return ""
    if not all(isinstance(k, yaml.ScalarNode) and v.tag == YAML_TAG + "null" for k, v in node.value):
        return ""
    return "{" + ", ".join(str(k.value) for k, _ in node.value) + "}"


class Integer(Kind[int]):
    """A whole number within bounds; ``advice`` says, after a wrong value, which numbers mean what."""

    def __init__(self, low: int, high: int, advice: str = "") -> None:
        self.low, self.high, self.advice = low, high, advice
        self.expected = f"a whole number from {low} to {high}"

    def fail(self, node: yaml.Node, extra: str = "") -> Invalid:
        written = re.fullmatch(r"\s*(\d+)\s*[a-z]+\.?\s*", str(node.value), re.IGNORECASE)
        if written and not extra and isinstance(node, yaml.ScalarNode) and self.low <= int(written[1]) <= self.high:
            extra = f"; write the number alone: {int(written[1])}"  # `3s`, `3 times`, `3x`
        if not extra and self.advice and not re.fullmatch(r"[-+]?\d+", str(node.value)):
            extra = f"; {self.advice}"  # a word where a number belongs
        return super().fail(node, extra)

    def json(self, defs: JSON) -> JSON:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}

    def summary(self) -> str:
        return f"whole number, {self.low} to {self.high}"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> int:
        if not isinstance(node, yaml.ScalarNode) or not re.fullmatch(r"[-+]?\d{1,30}", str(node.value)):
            raise self.fail(node)
        value = int(node.value)
        if not self.low <= value <= self.high:
            raise self.fail(node)
        return value


class Number(Kind[float]):
    """A number within bounds."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high
        self.expected = f"a number from {low} to {high}"

    def json(self, defs: JSON) -> JSON:
        return {"type": "number", "minimum": self.low, "maximum": self.high}

    def summary(self) -> str:
        return f"number from {self.low} to {self.high}"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> float:
        if node.tag not in (YAML_TAG + "int", YAML_TAG + "float"):
            raise self.fail(node, self._percent(node))
        return self.within(str(node.value).replace("_", ""), node)

    def _percent(self, node: yaml.Node) -> str:
        """The fix for a share written as a percentage (``80%``) where a fraction is expected."""
        percent = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", str(node.value))
        if percent and self.high <= 1 and self.low <= float(percent[1]) / 100 <= self.high:
            return f"; a share is written as a fraction: {float(percent[1]) / 100:g}"
        return ""

    def within(self, text: str, node: yaml.Node) -> float:
        """``text`` as a number within the bounds, or ``Invalid`` naming ``node``."""
        try:
            value = float(text)
        except ValueError:
            raise self.fail(node) from None
        if not self.low <= value <= self.high:
            raise self.fail(node)
        return value


class Duration(Kind[int]):
    """A duration in milliseconds (see ``durations.parse_duration``)."""

    expected = DURATION_HINT

    def __init__(self, minimum_ms: int = 0, maximum_ms: int = 4 * 3_600_000) -> None:
        self.minimum_ms, self.maximum_ms = minimum_ms, maximum_ms

    def json(self, defs: JSON) -> JSON:
        seconds = {"type": "number", "minimum": self.minimum_ms / 1000, "maximum": self.maximum_ms / 1000}
        return {
            "anyOf": [matching(duration_pattern(), self.expected), seconds],
            "examples": list(DURATION_EXAMPLES),
        }

    def summary(self) -> str:
        floor = {0: "0 or more", 1: "more than 0"}.get(self.minimum_ms, f"at least {format_span(self.minimum_ms)}")
        return f"a [duration](#10-durations), {floor}"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> int:
        text = self.scalar(node)
        try:
            ms = parse_duration(text)
        except ValueError:
            raise self.fail(node, f"; did you mean {words}?" if (words := duration_in_words(text)) else "") from None
        if ms < self.minimum_ms:
            floor = "more than 0" if self.minimum_ms == 1 else f"at least {format_span(self.minimum_ms)}"
            raise Invalid(f"must be {floor}, got {describe(node)}")
        if ms > self.maximum_ms:
            raise Invalid(f"must be at most {format_span(self.maximum_ms)}, got {describe(node)}")
        return ms


class Offset(Duration):
    """A point in a hold: ``half``, a duration from its start, or ``-10s`` from its end.

    Returns milliseconds; ``HALF`` for ``half``; negative values count from the end.
    """

    HALF: ClassVar[int] = -(2**62)
    expected = "`half`, a duration like 10s, or -10s (counted back from the end)"

    def json(self, defs: JSON) -> JSON:
        at = rf"^\s*[Hh][Aa][Ll][Ff]\s*$|{duration_pattern(signed=True)}"
        return {"anyOf": [matching(at, self.expected), {"type": "number"}], "examples": ["half", "15s", "-10s"]}

    def summary(self) -> str:
        return "`half`, a duration, or a duration with a minus sign"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> int:
        text = self.scalar(node).strip()
        if text.lower() == "half":
            return self.HALF
        try:
            return parse_duration(text)
        except ValueError:
            if re.fullmatch(r"50\s*%|(?:the\s+)?(?:middle|halfway|half\s*way)", text, re.IGNORECASE):
                raise self.fail(node, "; did you mean `half`?") from None
            raise self.fail(node, f"; did you mean {words}?" if (words := duration_in_words(text)) else "") from None


class Choice(Kind[str]):
    """One of a fixed set of words (lower case letters, digits and ``-``), taken in any case."""

    def __init__(self, options: Sequence[str]) -> None:
        assert all(re.fullmatch(r"[a-z0-9-]+", option) for option in options), options
        self.options = tuple(options)
        self.expected = f"one of [{', '.join(self.options)}]"

    def json(self, defs: JSON) -> JSON:
        # the words for an editor to offer, and, as `convert` takes them, in any case (`Both`, `FR`)
        any_case = "|".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in o) for o in self.options)
        return {"anyOf": [{"enum": list(self.options)}, matching(rf"^\s*(?:{any_case})\s*$", self.expected)]}

    def summary(self) -> str:
        words = [f"`{option}`" for option in self.options]
        return f"{', '.join(words[:-1])} or {words[-1]}" if len(words) > 1 else words[0]

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> str:
        value = self.scalar(node).strip().lower()  # `Both`, `FR`: the case is not the mistake
        if value not in self.options:
            raise self.fail(node, self.hint(value))
        return value

    def hint(self, value: str) -> str:
        """The "did you mean" part of the message for ``value``."""
        return did_you_mean(value, self.options)


class Flag(Kind[bool]):
    """``true`` or ``false``."""

    expected = "true or false"

    def json(self, defs: JSON) -> JSON:
        return {"type": "boolean"}

    def summary(self) -> str:
        return "`true` or `false`"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != YAML_TAG + "bool":
            raise self.fail(node)
        return bool(yaml.SafeLoader(b"").construct_yaml_bool(node))


class ListOf(Kind[list[T]]):
    """A list whose items are each checked; invalid items are reported and dropped."""

    def __init__(self, item: Kind[T], min_items: int = 0, max_items: int = 1000) -> None:
        self.item, self.min_items, self.max_items = item, min_items, max_items
        self.expected = f"a list of {item.plural or item.expected}"

    def json(self, defs: JSON) -> JSON:
        return {"type": "array", "items": self.item.json(defs), "minItems": self.min_items, "maxItems": self.max_items}

    def summary(self) -> str:
        return f"a list of {self.min_items} to {self.max_items} items, each {self.item.summary()}"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> list[T]:
        if not isinstance(node, yaml.SequenceNode):
            raise self._not_a_list(node, path, ctx)
        if unbraced := _unbraced_pairs(node):
            raise Invalid(
                f"each {self.item.noun} needs its own braces inside the brackets, or YAML reads every field "
                f"as an item of its own; write [{{{unbraced}}}]"
            )
        if len(node.value) < self.min_items:
            raise Invalid(f"needs at least {self.min_items} item{'s' * (self.min_items > 1)}, got none")
        if len(node.value) > self.max_items:
            raise Invalid(f"has {len(node.value):,} items; the limit is {self.max_items:,}")
        items: list[T] = []
        for index, child in enumerate(node.value):
            child_path = join(path, index)
            try:
                items.append(self.item.convert(child, child_path, ctx))
            except Invalid as err:
                ctx.report(line_of(child), child_path, str(err))
        return items

    def _not_a_list(self, node: yaml.Node, path: str, ctx: Context) -> Invalid:
        """Why ``node`` is not the list, in the words of the likely slip: one item without brackets,
        or items without the `- ` that starts each one."""
        if isinstance(node, yaml.MappingNode) and self.item.group and not placeholders_read_as_fields(node):
            noun = self.item.noun
            if node.flow_style and node.start_mark.buffer is not None:
                written = node.start_mark.buffer[node.start_mark.pointer : node.end_mark.pointer]
                return Invalid(f"expected a list of {noun}s, even for one; put it in brackets: [{written}]")
            return Invalid(
                f"expected a list of {noun}s, got one group of fields; start each {noun} with `- ` (a dash and a space)"
            )
        if isinstance(node, yaml.ScalarNode) and node.tag != YAML_TAG + "null":
            try:
                self.item.convert(node, path, Context(ctx.source))
            except Invalid:
                return self.fail(node)
            return Invalid(f"expected a list, even for one item; write it in brackets: [{node.value}]")
        return self.fail(node)


def _unbraced_pairs(node: yaml.SequenceNode) -> str:
    """``[at: 5s, say: Now.]``: a list in brackets whose items are single ``key: value`` pairs
    written without braces (YAML makes each pair an item). Returns the pairs as written, or ``""``."""
    items = node.value
    if not node.flow_style or len(items) < 2:
        return ""
    for item in items:
        mark = item.start_mark
        if not isinstance(item, yaml.MappingNode) or len(item.value) != 1:
            return ""
        if mark.buffer is not None and mark.buffer[mark.pointer : mark.pointer + 1] == "{":
            return ""
    return ", ".join(f"{k.value}: {v.value}" for item in items for k, v in item.value if isinstance(v, yaml.ScalarNode))
