"""The routine format described for editors and readers, from the one declaration in routine/fields.py.

``routine_json_schema`` is what `voiceguide schema` prints. The repository keeps a
copy of it (``schema/routine.schema.json``, which the bundled routines point their
editors at) and the field tables of docs/routine-format.md; ``python -m
voiceguide.routine.reference`` rewrites both after the declaration changes, and copies
the docs into the package (``voiceguide/routine/routine-format.md``), where `voiceguide
docs` reads them in any installation. The tests fail while any of the three is stale.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from voiceguide.routine import fields
from voiceguide.routine.kinds import JSON
from voiceguide.routine.schema import Field, Nested, Schema, block_name, json_schema, markdown_table, plain
from voiceguide.suggest import closest

SCHEMA_PATH = Path("schema/routine.schema.json")
DOCS_PATH = Path("docs/routine-format.md")
PACKAGED = "routine-format.md"  # the copy of DOCS_PATH inside the package
PACKAGED_PATH = Path("voiceguide/routine") / PACKAGED
_TABLE = re.compile(r"(<!-- fields: (\w+) -->\n)(.*?)(<!-- end fields -->)", re.DOTALL)
SCHEMAS: tuple[type[Schema], ...] = (
    fields.RoutineSchema,
    fields.VoiceSchema,
    fields.DefaultsSchema,
    fields.StepSchema,
    fields.CueSchema,
    fields.SoundsSchema,
    fields.BackgroundSchema,
    fields.PhrasesSchema,
    fields.VariantSchema,
)


def routine_json_schema() -> JSON:
    """JSON Schema (draft 2020-12) for routine files."""
    defs: JSON = {}
    top = json_schema(fields.RoutineSchema, defs)
    for schema in SCHEMAS[1:]:
        Nested(schema).json(defs)  # every block, in reading order
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "voiceguide routine",
        "description": "A routine for voiceguide: what is said, how long each position is held, on which sides. "
        "Reference: `voiceguide docs`.",
        **top,
        "$defs": {block_name(schema): defs[block_name(schema)] for schema in SCHEMAS[1:]},
    }


def schema_text() -> str:
    """The JSON Schema as the committed file holds it."""
    return json.dumps(routine_json_schema(), indent=2, ensure_ascii=False) + "\n"


def update_tables(markdown: str) -> str:
    """``markdown`` with every ``<!-- fields: NAME -->`` table regenerated from its schema."""
    by_name = {block_name(schema): schema for schema in SCHEMAS}

    def table(match: re.Match[str]) -> str:
        if match[2] not in by_name:
            raise KeyError(f"docs name an unknown block {match[2]!r}; known: {', '.join(by_name)}")
        return match[1] + markdown_table(by_name[match[2]]) + match[4]

    return _TABLE.sub(table, markdown)


def table_names(markdown: str) -> list[str]:
    """The blocks whose tables ``markdown`` marks for generation."""
    return [match[2] for match in _TABLE.finditer(markdown)]


_WHERE = {
    "routine": "at the top level of a routine",
    "voice": "in `voice` (the routine's, or a step's own)",
    "defaults": "in `defaults`",
    "step": "in each step, under `steps:`",
    "cue": "in each cue, under a step's `cues:`",
    "sounds": "in `sounds`",
    "background": "in `background`",
    "phrases": "in `phrases`",
    "variant": "in each version, under `variants:`",
}


def format_reference() -> str:
    """The routine format reference (docs/routine-format.md), as installed with the package."""
    return resources.files("voiceguide.routine").joinpath(PACKAGED).read_text(encoding="utf-8")


def _entries() -> list[tuple[str, str, Field[Any]]]:
    """Every documented field: (block, key, field), in the docs' order."""
    return [(block_name(schema), key, f) for schema in SCHEMAS for key, f in schema.fields().items()]


def field_names() -> list[str]:
    """The names `voiceguide docs FIELD` takes: fields, and ``block.field``."""
    entries = _entries()
    return sorted({key for _, key, _ in entries} | {f"{block}.{key}" for block, key, _ in entries})


def field_help(name: str) -> str | None:
    """The reference entry of field ``name`` (``cues``, or ``voice.rate`` for one block's), in every
    block that has it; ``None`` if no field is called so."""
    block, _, key = name.strip().lower().rpartition(".")
    block = {"steps": "step", "cues": "cue"}.get(block, block)
    found = [_entry(where, key, f) for where, field_key, f in _entries() if field_key == key and block in ("", where)]
    return "\n\n".join(found) if found else None


def _entry(block: str, key: str, f: Field[Any]) -> str:
    lines = [f"{key}, {_WHERE[block]}", f"  {'Required. ' if f.required else ''}{plain(f.doc)}"]
    lines.append(f"  Values:  {plain(f.values or f.kind.summary())}")
    lines.append(f"  Default: {plain(f.default_text())}")
    if isinstance(f.kind, Nested):
        lines.append(f"  Fields inside: {', '.join(f.kind.schema.fields())} (`voiceguide docs {key}.FIELD`)")
    return "\n".join(lines)


def section_help(word: str) -> str | None:
    """The section of the reference whose heading has ``word`` (``durations``, ``sides``), or ``None``."""
    text = format_reference()
    for match in re.finditer(r"^## (.+)$", text, re.MULTILINE):
        if word.strip().lower() in match[1].lower():
            end = text.find("\n## ", match.end())
            return text[match.start() : end if end >= 0 else len(text)].rstrip().removesuffix("---").rstrip() + "\n"
    return None


def unknown_topic(word: str) -> str:
    """The message for a `voiceguide docs WORD` that names no field or section."""
    hint = f"; did you mean {m!r}?" if (m := closest(word.lower(), field_names())) else ""
    return f"no field or section {word!r} in the routine format{hint} (`voiceguide docs` shows it all)"


def main(root: Path = Path()) -> None:
    """Rewrite the committed JSON Schema and the docs' field tables in the checkout at ``root``,
    and copy the docs into the package."""
    (root / SCHEMA_PATH).parent.mkdir(exist_ok=True)
    (root / SCHEMA_PATH).write_text(schema_text(), encoding="utf-8")
    docs = root / DOCS_PATH
    docs.write_text(update_tables(docs.read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copyfile(docs, root / PACKAGED_PATH)
    print(f"wrote {SCHEMA_PATH}, the field tables of {DOCS_PATH} and its copy {PACKAGED_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
