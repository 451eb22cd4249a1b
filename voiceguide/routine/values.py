"""The routine's own kinds of value: side labels, languages, whole seconds, decibels."""

from __future__ import annotations

import re
from collections.abc import Iterable

import yaml

from voiceguide.durations import DURATION_HINT, duration_pattern
from voiceguide.phrases import language_names
from voiceguide.routine.kinds import JSON, Choice, Context, Duration, Invalid, Kind, Number, Text, matching
from voiceguide.routine.source import YAML_TAG, describe


class SideLabel(Text):
    """One side's name: letters, digits, spaces and hyphens (``left``, ``upper arm``)."""

    expected = "a side label (letters, digits, spaces and hyphens)"

    def json(self, defs: JSON) -> JSON:
        # no `,` `/` `&` or ` and `: one label per side (the validator suggests the list)
        return {**super().json(defs), **matching(r"^(?!.*\s[Aa][Nn][Dd]\s)[^,/&]*[^\s,/&][^,/&]*$", self.expected)}

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> str:
        if isinstance(node, yaml.ScalarNode) and node.tag != YAML_TAG + "str":
            kind = _KINDS.get(node.tag, "a value")
            raise Invalid(f"expected a side label like left or right, got {describe(node)}, which YAML reads as {kind}")
        label = super().convert(node, path, ctx)
        if parts := _several(label):
            raise Invalid(f"names several sides in one text ({label!r}); did you mean [{', '.join(parts)}]?")
        if not _LABEL.fullmatch(label):
            raise Invalid(f"expected {self.expected}, got {label!r}")
        return label


_LABEL = re.compile(r"[^\W_]([^\W_]|[ -])*")
_SEPARATORS = re.compile(r"\s*[,/&]\s*|\s+and\s+", re.IGNORECASE)
_KINDS = {YAML_TAG + "int": "a number", YAML_TAG + "float": "a number", YAML_TAG + "bool": "yes/no (true/false)"}


def _several(text: str) -> list[str]:
    """The sides in ``left, right``, ``left and right``, ``left/right`` or ``left & right``; else []."""
    if not _SEPARATORS.search(text):
        return []
    return [part for part in _SEPARATORS.split(text) if part]


class Sides(Kind["tuple[str, ...] | str"]):
    """``both`` (any case: the language's two sides, resolved later), one side label, or a list of labels."""

    expected = "`both`, one side label, or a list of side labels like [right, left]"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> tuple[str, ...] | str:
        if isinstance(node, yaml.SequenceNode):
            labels = tuple(SideLabel(60).convert(item, path, ctx) for item in node.value)
            if not labels:
                raise Invalid("expected at least one side label, got an empty list")
            _distinct(labels)
            return labels
        if isinstance(node, yaml.ScalarNode) and node.tag == YAML_TAG + "str" and node.value.strip().lower() == "both":
            return "both"
        if not isinstance(node, yaml.ScalarNode) or node.tag == YAML_TAG + "null":
            raise self.fail(node)
        return (SideLabel(60).convert(node, path, ctx),)

    def json(self, defs: JSON) -> JSON:
        label = SideLabel(60).json(defs)
        return {
            "anyOf": [label, {"type": "array", "items": label, "minItems": 1, "uniqueItems": True}],
            "examples": ["both", ["upper", "lower"], "right"],
        }


class Language(Choice):
    """A language with a phrase file; ``fr-FR`` or ``fr_CA`` suggest ``fr``."""

    def hint(self, value: str) -> str:
        base = re.split(r"[-_]", value)[0]
        base = language_names().get(value.casefold(), base)  # `German`, `Deutsch`
        return f"; did you mean {base!r}?" if base in self.options else super().hint(value)


def _distinct(labels: Iterable[str]) -> None:
    """Side labels must differ (ignoring case), or two sides would sound the same."""
    labels = list(labels)
    if len({label.casefold() for label in labels}) != len(labels):
        raise Invalid(f"lists a side twice: {labels}")


class WholeSeconds(Duration):
    """A duration of whole seconds, at least two (spoken as "N seconds")."""

    expected = "whole seconds like 30s or 1m"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> int:
        ms = super().convert(node, path, ctx)
        if ms % 1000 or ms < 2000:
            raise self.fail(node)
        return ms

    def json(self, defs: JSON) -> JSON:
        seconds = {"type": "integer", "minimum": 2, "maximum": self.maximum_ms // 1000}
        return {"anyOf": [matching(duration_pattern(), DURATION_HINT), seconds], "examples": ["30s", "1m"]}

    def summary(self) -> str:
        return "a duration in whole seconds, 2 s or more"


class Decibels(Number):
    """A level in dB: ``-20dB``, ``-20 dB`` or ``-20``, within bounds."""

    def __init__(self, low: int, high: int = 0) -> None:
        if high != 0 or not -99 <= low <= -10:
            raise ValueError("Decibels' pattern is written for levels from -10..-99 dB up to 0 dB")
        super().__init__(low, high)
        self.expected = f"a level in dB from {low:g}dB to {high:g}dB, like -20dB"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> float:
        return self.within(self.scalar(node).strip().removesuffix("dB").removesuffix("db").strip(), node)

    def json(self, defs: JSON) -> JSON:
        tens, ones = divmod(-int(self.low), 10)
        fraction = r"(?:\.\d+)?"
        below = [rf"[0-{tens - 1}]?\d{fraction}" if tens > 1 else rf"\d{fraction}", r"\.\d+"]
        if ones:
            below.append(rf"{tens}[0-{ones - 1}]{fraction}" if ones > 1 else rf"{tens}0{fraction}")
        magnitude = "|".join([*below, rf"{-int(self.low)}(?:\.0+)?"])
        level = rf"^\s*(?:-(?:{magnitude})|[+-]?(?:0+(?:\.0*)?|\.0+))\s*(?:dB|db)?\s*$"
        return {"anyOf": [matching(level, self.expected), super().json(defs)], "examples": ["-20dB"]}

    def summary(self) -> str:
        return f"`{self.low:g}dB` to `{self.high:g}dB` (`-20dB`, `-20 dB` or `-20`)"
