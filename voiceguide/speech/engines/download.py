"""Fetch a Piper voice from the public Piper voices repository into the user's voice folder.

The repository's ``voices.json`` lists every voice with its files, their sizes and MD5
digests; each file is checked against both before anything is put in place, and a
voice appears only once both its files are complete (a voice is listed only when its
config is there too, and the config is renamed into place last).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Any

from voiceguide.errors import EngineError
from voiceguide.files import atomic_path, remove_stale_parts
from voiceguide.progress import SILENT, Progress
from voiceguide.suggest import closest

VOICES_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/main"
TIMEOUT_SECONDS = 60
_BLOCK = 1 << 16
_FIX = "check the network connection and try again (VOICEGUIDE_VOICES_URL sets another copy of the repository)"


def downloadable(language: str = "") -> list[str]:
    """Ids of the voices in the public Piper voices list (the copy the package carries) for
    ``language`` (``de``, ``de_DE`` or ``pt-br``; every voice when empty)."""
    listed = resources.files(__package__).joinpath("piper-voices.txt").read_text(encoding="utf-8")
    ids = [line for line in listed.splitlines() if line and not line.startswith("#")]
    wanted = language.casefold().replace("-", "_")
    return [voice for voice in ids if not wanted or wanted in _locale(voice)]


def _locale(voice_id: str) -> tuple[str, str]:
    """``de_DE-thorsten-medium`` -> ``("de_de", "de")``: its locale and language, lower case."""
    locale = voice_id.split("-", maxsplit=1)[0].casefold()
    return locale, locale.split("_")[0]


def voices_url() -> str:
    """$VOICEGUIDE_VOICES_URL, else the public repository (no trailing slash)."""
    return (os.environ.get("VOICEGUIDE_VOICES_URL") or VOICES_URL).rstrip("/")


def download_voice(voice_id: str, folder: Path, progress: Progress = SILENT) -> Path:
    """Download ``voice_id`` (``en_US-lessac-medium``) into ``folder``; returns the model's path.

    ``progress`` counts bytes, in one stage named after the voice.
    """
    catalogue = json.loads(b"".join(_fetch(f"{voices_url()}/voices.json")))
    entry = catalogue.get(voice_id) if isinstance(catalogue, dict) else None
    if not isinstance(entry, dict):
        hint = f"; did you mean {m!r}?" if (m := closest(voice_id, list(catalogue))) else ""
        raise EngineError(
            f"the Piper voices repository has no voice {voice_id!r}{hint}",
            "see the list at https://rhasspy.github.io/piper-samples/",
        )
    files = _voice_files(voice_id, entry)
    total = sum(size for _, size, _ in files)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise EngineError(f"cannot create the voice folder {folder}: {err.strerror}", "fix its permissions") from None
    remove_stale_parts(folder)  # a download that was killed
    progress.stage(voice_id, total)
    with ExitStack() as stack:
        for remote, size, md5 in files:
            partial = stack.enter_context(atomic_path(folder / Path(remote).name))
            digest = hashlib.md5(usedforsecurity=False)
            written = 0
            with partial.open("wb") as out:
                for block in _fetch(f"{voices_url()}/{remote}"):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                    progress.advance(len(block))
            if written != size or digest.hexdigest() != md5:
                raise EngineError(
                    f"the download of {Path(remote).name} is damaged ({written} of {size} bytes, checksum "
                    f"{'matches' if digest.hexdigest() == md5 else 'differs'}); nothing was installed",
                    _FIX,
                )
    return folder / f"{voice_id}.onnx"


def _voice_files(voice_id: str, entry: dict[str, Any]) -> list[tuple[str, int, str]]:
    """The config and the model, as (path in the repository, size, MD5): renamed into place in
    the reverse order, so the config comes last."""
    listed = entry.get("files", {})
    wanted = [f"{voice_id}.onnx.json", f"{voice_id}.onnx"]
    files = []
    for name in wanted:
        match = [path for path in listed if Path(path).name == name]
        if not match or not isinstance(listed[match[0]], dict):
            raise EngineError(f"the Piper voices repository lists no file {name}", _FIX)
        meta = listed[match[0]]
        files.append((match[0], int(meta["size_bytes"]), str(meta["md5_digest"])))
    return files


def _fetch(url: str) -> Iterator[bytes]:
    """The body of ``url``, block by block; any failure is an ``EngineError`` with the fix."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            while block := response.read(_BLOCK):
                yield block
    except urllib.error.HTTPError as err:
        raise EngineError(f"cannot download {url}: HTTP {err.code} {err.reason}", _FIX) from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise EngineError(f"cannot download {url}: {reason}", _FIX) from None
