"""A small declarative schema over YAML nodes, in the manner of mkdocs' config options.

A schema is a class whose attributes are ``Field``s; checking a mapping node
against it collects every problem (unknown keys with a "did you mean", duplicate
keys, missing or mistyped values) with its line and field path, and returns a
``Section`` from which typed values are read back.

The same declaration describes itself for people and editors: ``json_schema``
turns it into JSON Schema (draft 2020-12) and ``markdown_table`` into the
reference tables of docs/routine-format.md, from each field's ``doc``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

import yaml

from voiceguide.routine.kinds import JSON, Context, Invalid, Kind, join
from voiceguide.routine.source import describe, line_of
from voiceguide.suggest import closest

_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")


SHOWN_KEY = 40  # characters of an unknown key a message repeats


def shown(key: str) -> str:
    """``key`` as a message repeats it: a pasted paragraph where a field name belongs is cut short."""
    return key if len(key) <= SHOWN_KEY else key[: SHOWN_KEY - 1] + "…"


T = TypeVar("T")


class MapOf(Kind[dict[str, T]]):
    """A mapping from names the user chooses (lower-case words, like ``gentle``) to checked values.

    Invalid entries are reported and dropped; ``reserved`` names are refused (they mean something else).
    """

    NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")

    def __init__(self, item: Kind[T], reserved: Sequence[str] = ()) -> None:
        self.item, self.reserved = item, tuple(reserved)
        self.expected = f"names (like `gentle`), each with {item.expected}"

    def json(self, defs: JSON) -> JSON:
        names = {
            "pattern": rf"^{self.NAME.pattern}$",
            **({"not": {"enum": list(self.reserved)}} if self.reserved else {}),
        }
        return {"type": "object", "propertyNames": names, "additionalProperties": self.item.json(defs)}

    def summary(self) -> str:
        return f"names, each with {self.item.summary()}"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> dict[str, T]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node)
        items: dict[str, T] = {}
        for key_node, value_node in node.value:
            key = str(getattr(key_node, "value", ""))
            where = join(path, shown(key))
            if not isinstance(key_node, yaml.ScalarNode) or not self.NAME.fullmatch(key):
                message = "expected a name of lower-case letters, digits and hyphens (up to 40), like `gentle`"
                ctx.report(line_of(key_node), where, f"{message}, got {describe(key_node)}")
            elif key in self.reserved:
                ctx.report(line_of(key_node), where, f"{key!r} is a reserved word here; choose another name")
            elif key in items:
                ctx.report(line_of(key_node), where, "appears twice; keep one")
            else:
                try:
                    items[key] = self.item.convert(value_node, where, ctx)
                except Invalid as err:
                    ctx.report(line_of(value_node), where, str(err))
        return items


class Nested(Kind["Section"]):
    """A mapping checked against another schema."""

    expected = "a group of fields (`key: value` lines)"
    plural = "groups of fields"

    group = True

    def __init__(self, schema: type[Schema], example: str = "") -> None:
        self.schema, self.example = schema, example
        self.noun = block_name(schema)

    def json(self, defs: JSON) -> JSON:
        name = block_name(self.schema)
        if name not in defs:
            defs[name] = {}  # claimed first, so a schema may refer to itself
            defs[name] = json_schema(self.schema, defs)
        return {"$ref": f"#/$defs/{name}"}

    def summary(self) -> str:
        return f"a `{block_name(self.schema)}` block"

    def convert(self, node: yaml.Node, path: str, ctx: Context) -> Section:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"; write {self.example}" if self.example else "")
        return check(node, self.schema, path, ctx)


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


class Field(Generic[T]):
    """One key of a schema: its kind, whether it is required, and its documentation.

    ``doc`` is the field's reference text (Markdown), shown in the docs' tables and
    in editors; ``help`` is the short reminder a "is required" message gives.
    ``values`` replaces the kind's own summary where the docs need more words.
    ``default`` is the value a missing field means, when one literal value does;
    ``default_doc`` says it in words when it depends on other settings.
    """

    key: str

    def __init__(
        self,
        kind: Kind[T],
        *,
        required: bool = False,
        help: str = "",
        doc: str = "",
        values: str = "",
        default: Any = NO_DEFAULT,
        default_doc: str = "",
        examples: Sequence[Any] = (),
    ) -> None:
        self.kind, self.required, self.help, self.doc = kind, required, help, doc
        self.values, self.default, self.default_doc, self.examples = values, default, default_doc, tuple(examples)

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    def json(self, defs: JSON) -> JSON:
        """This field's JSON Schema: its kind, described, with its default and examples."""
        spec = dict(self.kind.json(defs))
        description = plain(self.doc)
        if self.default_doc:
            description += f" Default: {plain(self.default_doc)}."
        spec["description"] = description
        if self.default is not NO_DEFAULT:
            spec["default"] = self.default
        if self.examples:
            spec["examples"] = list(self.examples)
        return spec

    def default_text(self) -> str:
        """The docs' "Default" column."""
        if self.required:
            return "—"
        if self.default_doc:
            return self.default_doc
        if self.default is NO_DEFAULT or self.default == []:
            return "none"
        value = self.default
        return f"`{str(value).lower() if isinstance(value, bool) else value}`"


class Schema:
    """Base for schema classes; their ``Field`` attributes are the allowed keys. ``elsewhere``
    names where a key of another block belongs, for the message when it is written here."""

    elsewhere: ClassVar[dict[str, str]] = {}

    @classmethod
    def fields(cls) -> dict[str, Field[Any]]:
        return {f.key: f for f in vars(cls).values() if isinstance(f, Field)}


def block_name(schema: type[Schema]) -> str:
    """``StepSchema`` -> ``step``: its name in the JSON Schema's ``$defs`` and the docs' markers."""
    return schema.__name__.removesuffix("Schema").lower()


def plain(markdown: str) -> str:
    """Reference text for an editor's tooltip: links become their words."""
    return _LINK.sub(r"\1", markdown)


def json_schema(schema: type[Schema], defs: JSON) -> JSON:
    """``schema`` as a JSON Schema object: every field, the required ones, and nothing else."""
    fields = schema.fields()
    spec: JSON = {
        "type": "object",
        "properties": {key: f.json(defs) for key, f in fields.items()},
        "additionalProperties": False,
    }
    if required := [key for key, f in fields.items() if f.required]:
        spec["required"] = required
    return spec


def markdown_table(schema: type[Schema]) -> str:
    """The reference table of ``schema``'s fields, as docs/routine-format.md shows it."""
    rows = ["| Field | What it is | Values | Default |", "|-------|------------|--------|---------|"]
    for key, f in schema.fields().items():
        what = f"**Required.** {f.doc}" if f.required else f.doc
        cells = (f"`{key}`", what, f.values or f.kind.summary(), f.default_text())
        if any("|" in cell or "\n" in cell for cell in cells):
            raise ValueError(f"{schema.__name__}.{key}: a table cell cannot hold '|' or a line break")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


class Section:
    """A checked mapping: typed values by field, and where each one stands."""

    def __init__(self, node: yaml.MappingNode, path: str) -> None:
        self.node, self.path = node, path
        self.values: dict[str, Any] = {}
        self.nodes: dict[str, yaml.Node] = {}
        self.misspelled: set[str] = set()

    def get(self, f: Field[T]) -> T | None:
        """The value of ``f``, or ``None`` if absent or invalid."""
        return cast("T | None", self.values.get(f.key))

    def given(self, f: Field[Any]) -> bool:
        """Whether the file sets ``f``, even to an invalid value or under a misspelled name (so what
        depends on ``f`` is not reported as missing it: the one problem is the refused field)."""
        return f.key in self.nodes or f.key in self.misspelled

    def line(self, f: Field[Any] | None = None) -> int:
        """Line of ``f``'s value, or of the mapping itself."""
        node = self.nodes.get(f.key) if f is not None else None
        return line_of(node if node is not None else self.node)

    def where(self, f: Field[Any]) -> str:
        return join(self.path, f.key)


def check(node: yaml.MappingNode, schema: type[Schema], path: str, ctx: Context) -> Section:
    """Check ``node`` against ``schema``; problems go to ``ctx``, good values into the section."""
    fields = schema.fields()
    section = Section(node, path)
    first_line: dict[str, int] = {}
    new_item = False  # the fields after a forgotten `- ` belong to the next item: one message for them
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            ctx.report(line_of(key_node), path, "keys must be plain words like `hold`")
            continue
        key = str(key_node.value)
        where = join(path, shown(key))
        if key in first_line:
            if new_item:
                continue
            first = node.value[0][0]
            if (
                path.endswith("]") and key == first.value and not node.flow_style
            ):  # an item of a list: `- name: A` ... `name: B`
                new_item = True
                noun = block_name(schema)
                ctx.report(
                    line_of(key_node),
                    where,
                    f"appears twice (first on line {first_line[key]}); did you forget `- ` to start a new {noun}?",
                    fix=f"start the {noun} on line {line_of(key_node)} with `- `, lined up with the `- ` of the "
                    f"{noun} above it",
                )
            else:
                ctx.report(line_of(key_node), where, f"appears twice (first on line {first_line[key]}); keep one")
            continue
        first_line[key] = line_of(key_node)
        spec = fields.get(key)
        if spec is None:
            # a field of another block written here (`at` in a step) says so, before any near spelling (`wait`)
            match = None if key in schema.elsewhere else closest(key, list(fields))
            if match is not None and match not in first_line:
                section.misspelled.add(match)
            hint = f"; did you mean {match!r}?" if match else f"; expected one of [{', '.join(fields)}]"
            if key in schema.elsewhere:
                hint = f"; {schema.elsewhere[key]}"
            ctx.report(line_of(key_node), where, f"unknown field {shown(key)!r}{hint}")
            continue
        section.nodes[key] = value_node
        try:
            section.values[key] = spec.kind.convert(value_node, where, ctx)
        except Invalid as err:
            ctx.report(line_of(value_node), where, str(err))
    for key, spec in fields.items():
        if spec.required and not section.given(spec):
            ctx.report(line_of(node), join(path, key), f"is required ({spec.help})")
    return section
