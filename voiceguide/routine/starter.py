"""The short, commented routine `voiceguide new` writes, in the language of its choice."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import yaml

from voiceguide.errors import OutputError
from voiceguide.files import atomic_path
from voiceguide.phrases import starter
from voiceguide.routine.fields import RoutineSchema
from voiceguide.routine.kinds import Context, Invalid
from voiceguide.routine.reference import SCHEMA_PATH

_STR = "tag:yaml.org,2002:str"

_TEMPLATE = """\
{modeline}# A starter routine. Change the texts and times to make it yours.
# Lines starting with # are notes for you; they are never spoken.
# `voiceguide docs` explains every field (`voiceguide docs cues`: one field).
# Check the file, then listen:
#   voiceguide validate {file}
#   voiceguide render {file}
title: {title}
# The language of the words voiceguide adds (side names, countdown numbers):
language: {language}
# Spoken once at the start:
intro: {intro}
defaults:
  pause: 2s  # silence after each step
  rest: 2s   # silence between the sides
steps:
  # One exercise; add more below it, each starting with "- name:" or "- say:".
  - name: {name}
    # {{side}} becomes the name of each side in turn:
    say: {say}
    sides: both  # the step is done on one side, then on the other
    hold: 12s    # exactly this long, after `say`, in silence
    # wait: true # first "Press play when you're ready.": the phone page pauses until you press play
    countdown: 3 # the last three seconds of the hold are counted down
    # Lines spoken during the hold; `at` can be half, 2s (from the start) or -3s (from the end):
    cues:
      - at: half
        say: {cue}
    # Spoken after every hold:
    release: {release}
# Spoken once at the end:
outro: {outro}
# Other versions of this routine, made with --variant (voiceguide render {file} --variant gentle):
# variants:
#   gentle: {{holds: 1.5, pace: 0.85}}  # holds half as long again; a slower voice, longer rests
#   quick: {{holds: 0.5, reps: 1}}      # half the holds, every step once
"""


def _scalar(text: str) -> str:
    """``text`` as a YAML value: plain when it reads back unchanged, else double-quoted."""
    try:
        plain = "#" not in text and yaml.safe_load(f"key: {text}") == {"key": text}
    except yaml.YAMLError:
        plain = False
    return text if plain else json.dumps(text, ensure_ascii=False)


def check_title(title: str) -> str:
    """``title`` as a routine's ``title`` reads it; ``ValueError`` says why it cannot be one."""
    try:
        return RoutineSchema.title.kind.convert(yaml.ScalarNode(_STR, title), "title", Context("--title"))
    except Invalid as err:
        raise ValueError(str(err)) from None


def _modeline(folder: Path) -> str:
    """The editor modeline, when the routine is written inside a checkout that has the schema."""
    for parent in (folder, *folder.parents):
        if (parent / SCHEMA_PATH).is_file():
            return f"# yaml-language-server: $schema={Path(os.path.relpath(parent / SCHEMA_PATH, folder)).as_posix()}\n"
    return ""


def starter_text(
    language: str, title: str | None = None, file: str = "routine.yaml", folder: Path | None = None
) -> str:
    """The starter routine in ``language``; ``folder`` (where it goes) decides the editor modeline."""
    words = starter(language)
    values = {key: _scalar(text) for key, text in words.items()}
    values["title"] = _scalar(check_title(title) if title is not None else words["title"])
    return _TEMPLATE.format(
        modeline=_modeline(folder.resolve()) if folder else "", language=language, file=file, **values
    )


def write_starter(path: Path, language: str, title: str | None = None, force: bool = False) -> Path:
    """Write the starter routine to ``path``; an existing file is replaced only with ``force``."""
    if path.is_dir():
        raise OutputError(f"{path} is a folder", f"name a file, like {path / 'routine.yaml'}")
    if path.exists() and not force:
        raise OutputError(f"{path} already exists", "choose another file name, or add --force to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = starter_text(language, title, shlex.quote(str(path)), path.parent)
        with atomic_path(path) as temporary:
            temporary.write_text(text, encoding="utf-8")
    except OSError as err:
        raise OutputError(
            f"cannot write {path}: {err.strerror}", "choose another folder, or fix its permissions"
        ) from None
    return path
