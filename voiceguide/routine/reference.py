"""The routine format described for editors and readers, from the one declaration in routine/fields.py.

``routine_json_schema`` is what `voiceguide schema` prints. The repository keeps a
copy of it (``schema/routine.schema.json``, which the bundled routines point their
editors at) and the field tables of docs/routine-format.md; ``python -m
voiceguide.routine.reference`` rewrites both after the declaration changes, and the tests
fail while either is stale.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from voiceguide.routine import fields
from voiceguide.routine.kinds import JSON
from voiceguide.routine.schema import Nested, Schema, block_name, json_schema, markdown_table

SCHEMA_PATH = Path("schema/routine.schema.json")
DOCS_PATH = Path("docs/routine-format.md")
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
        "Reference: docs/routine-format.md.",
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


def main(root: Path = Path()) -> None:
    """Rewrite the committed JSON Schema and the docs' field tables in the checkout at ``root``."""
    (root / SCHEMA_PATH).parent.mkdir(exist_ok=True)
    (root / SCHEMA_PATH).write_text(schema_text(), encoding="utf-8")
    docs = root / DOCS_PATH
    docs.write_text(update_tables(docs.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH} and the field tables of {DOCS_PATH}", file=sys.stderr)


if __name__ == "__main__":
    main()
