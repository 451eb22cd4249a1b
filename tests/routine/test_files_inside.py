"""A routine someone sends reads nothing outside its folder, and no name reaches ffmpeg as a protocol."""

from __future__ import annotations

import http.server
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.cli.app import cli
from voiceguide.errors import Problem, RoutineError
from voiceguide.routine.build import load_routine

STEPS = "steps:\n  - say: hi\n"
# every field that names a file, as a routine writes it (NAME is replaced by the path under test)
FILE_FIELDS = {
    "cover": "cover: NAME\n",
    "sounds.start": "sounds: {start: NAME}\n",
    "sounds.end": "sounds: {end: NAME}\n",
    "background.file": "background: {file: NAME}\n",
    "voice.name": "voice: {engine: piper, name: NAME}\n",
    "step voice.name": None,  # written inside the step, below
}
SUFFIX = {"cover": ".png", "voice.name": ".onnx", "step voice.name": ".onnx"}


def write_wav(path: Path, samples: np.ndarray, rate: int = 22_050) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())


def routine_naming(field: str, name: str) -> str:
    if field == "step voice.name":
        return f"title: T\nsteps:\n  - say: hi\n    voice: {{engine: piper, name: '{name}'}}\n"
    return "title: T\n" + FILE_FIELDS[field].replace("NAME", f"'{name}'") + STEPS


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A routine folder and a private folder beside it, each holding one file of every kind."""
    mine, private = tmp_path / "routines", tmp_path / "private"
    for folder in (mine, private):
        folder.mkdir()
        for suffix in (".wav", ".png", ".onnx"):
            (folder / f"secret{suffix}").write_bytes(b"x")
    return mine, private


@pytest.mark.parametrize("field", sorted(FILE_FIELDS))
@pytest.mark.parametrize("how", ["parent", "absolute", "home", "symlink", "symlinked-folder"])
def test_a_file_outside_the_routines_folder_is_refused_with_file_line_path_and_fix(
    layout: tuple[Path, Path], field: str, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine, private = layout
    secret = private / f"secret{SUFFIX.get(field, '.wav')}"
    monkeypatch.setenv("HOME", str(private.parent))
    name = {
        "parent": f"../private/{secret.name}",
        "absolute": str(secret),
        "home": f"~/private/{secret.name}",
        "symlink": f"link{secret.suffix}",
        "symlinked-folder": f"shared/{secret.name}",
    }[how]
    (mine / f"link{secret.suffix}").symlink_to(secret)
    (mine / "shared").symlink_to(private)
    routine = mine / "r.yaml"
    routine.write_text(routine_naming(field, name), encoding="utf-8")
    with pytest.raises(RoutineError) as caught:
        load_routine(routine)
    outside = [p for p in caught.value.problems if "outside the routine" in p.message]
    assert [(p.source, p.line) for p in outside] == [(str(routine), 4 if field == "step voice.name" else 2)]
    assert outside[0].message == (
        f"{name!r} is {secret}, outside the routine's folder {mine}; copy the file into that folder, "
        f"or allow its folder with --files-from {private}"
    )
    # the folder the user trusts is allowed, as are links that stay inside the routine's folder
    assert not [p for p in _problems(routine, (private,)) if "outside the routine" in p.message]


def _problems(routine: Path, trusted: tuple[Path, ...]) -> list[Problem]:
    try:
        load_routine(routine, trusted=trusted)
    except RoutineError as err:
        return list(err.problems)
    return []


def test_a_link_that_stays_inside_the_folder_is_followed(tmp_path: Path) -> None:
    write_wav(tmp_path / "bell.wav", np.zeros(100))
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "ding.wav").symlink_to(tmp_path / "bell.wav")
    routine = tmp_path / "r.yaml"
    routine.write_text("title: T\nsounds: {start: sounds/ding.wav}\n" + STEPS, encoding="utf-8")
    assert load_routine(routine).sounds.start == tmp_path / "bell.wav"


def test_files_from_on_the_command_line_and_in_the_environment(layout: tuple[Path, Path], runner: CliRunner) -> None:
    mine, private = layout
    write_wav(private / "bell.wav", np.zeros(100))
    routine = mine / "r.yaml"
    routine.write_text("title: T\nsounds: {start: ../private/bell.wav}\n" + STEPS, encoding="utf-8")
    refused = runner.invoke(cli, ["validate", str(routine)])
    assert refused.exit_code == 2
    assert f"{routine}:2: sounds.start: '../private/bell.wav' is {private / 'bell.wav'}, outside" in refused.output
    assert runner.invoke(cli, ["validate", "--files-from", str(private), str(routine)]).exit_code == 0
    other = mine.parent / "other"
    other.mkdir()
    both = f"{other}:{private}"
    assert runner.invoke(cli, ["validate", str(routine)], env={"VOICEGUIDE_FILES_FROM": both}).exit_code == 0


class _Requests(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    seen: list[str] = []
    handler = type("Handler", (_Requests,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("each_ffmpeg")
def test_a_concat_name_reads_the_file_of_that_name_not_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`concat:h.wav|<secret>` once put the secret file into the track as audio."""
    secret = tmp_path / "secret.raw"
    secret.write_bytes(np.full(22_050, 20_000, dtype="<i2").tobytes())  # loud, unmistakable
    write_wav(tmp_path / "h.wav", np.zeros(0))
    shipped = tmp_path / f"concat:h.wav|{secret.name}"
    write_wav(shipped, np.zeros(441))  # what the sender ships under that name: 20 ms of silence
    monkeypatch.chdir(tmp_path)
    samples, _ = decode_file(Path(shipped.name), 22_050)  # a relative name, as `render r.yaml` gave
    assert len(samples) == 441
    assert not samples.any()


@pytest.mark.usefixtures("each_ffmpeg")
def test_an_http_name_is_a_file_and_fetches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: tuple[int, list[str]]
) -> None:
    port, seen = listener
    folder = tmp_path / f"http:127.0.0.1:{port}"
    folder.mkdir()
    write_wav(folder / "rain.wav", np.zeros(441))
    monkeypatch.chdir(tmp_path)
    samples, _ = decode_file(Path(f"http:127.0.0.1:{port}/rain.wav"), 22_050)
    assert len(samples) == 441
    assert seen == []


def test_a_routine_background_named_like_a_url_is_never_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: tuple[int, list[str]], runner: CliRunner
) -> None:
    """The whole way: `render r.yaml` in the routine's folder, background `http:...`."""
    port, seen = listener
    (tmp_path / f"http:127.0.0.1:{port}").mkdir()
    write_wav(tmp_path / f"http:127.0.0.1:{port}" / "rain.wav", np.zeros(22_050))
    (tmp_path / "r.yaml").write_text(
        f"title: T\nvoice: {{engine: espeak-ng}}\nbackground: {{file: 'http:127.0.0.1:{port}/rain.wav'}}\n"
        "steps:\n  - {say: Go., hold: 1s, countdown: 0}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["render", "r.yaml", "-o", "out", "--no-sidecars"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "r.mp3").is_file()
    assert seen == []
