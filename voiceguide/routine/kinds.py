"""The kinds of value a schema field takes: text, numbers, durations, choices, lists.

Each turns a YAML node into a value, or raises ``Invalid`` saying what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import yaml

from voiceguide.durations import DURATION_EXAMPLES, DURATION_HINT, duration_pattern, format_span, parse_duration
from voiceguide.errors import Problem
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
    problems: list[Problem] = field(default_factory=list)

    def report(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(self.source, line, path, message))


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
        text = " ".join(self.scalar(node).split())
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


class Integer(Kind[int]):
    """A whole number within bounds."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high
        self.expected = f"a whole number from {low} to {high}"

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
            raise self.fail(node)
        return self.within(str(node.value).replace("_", ""), node)

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
        try:
            ms = parse_duration(self.scalar(node))
        except ValueError:
            raise self.fail(node) from None
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
            raise self.fail(node) from None


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
            raise self.fail(node)
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
