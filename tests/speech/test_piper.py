"""The piper engine on real Piper synthesis: `auto`, voices, settings, reproducibility, failures.

(Its renders are also held to their plans in test_render, and parallel against serial in test_cache.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from voiceguide.cli.app import cli
from voiceguide.model import Voice
from voiceguide.pipeline import Overrides, load, resolve_auto
from voiceguide.plan.timeline import SAMPLE_RATE
from voiceguide.speech import cache as speech_cache
from voiceguide.speech.clips import decode_clip, resample, trim
from voiceguide.speech.engines import get_engine
from voiceguide.speech.engines.base import pick_voice
from voiceguide.speech.engines.download import download_voice, downloadable
from voiceguide.speech.engines.piper import BUNDLED, THREADS, user_voice_folder

from conftest import MINIMAL, ROUTINES, VoiceServer

INSTALL = 'pip install "voiceguide[neural]"'


def speak(text: str, rate: int = 150, volume: float = 1.0, voice: str | None = None) -> np.ndarray[Any, Any]:
    engine = get_engine("piper")
    return decode_clip(engine.synthesise(text, pick_voice(engine, voice, "en"), rate, volume), SAMPLE_RATE)


def plan_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["plan", "--json", *args])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.fixture
def voices_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty $VOICEGUIDE_VOICES_DIR and user data folder, both private to the test."""
    folder = tmp_path / "voices"
    folder.mkdir()
    monkeypatch.setenv("VOICEGUIDE_VOICES_DIR", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return folder


def copy_bundled(folder: Path, name: str) -> Path:
    """The bundled voice's files as ``folder/name.onnx`` and ``.onnx.json``."""
    bundled = pick_voice(get_engine("piper"), BUNDLED, "en").model
    assert bundled is not None
    model = folder / f"{name}.onnx"
    shutil.copyfile(bundled, model)
    shutil.copyfile(f"{bundled}.json", f"{model}.json")
    return model


# --- auto --------------------------------------------------------------------------------


def test_auto_speaks_english_with_piper(write_routine: Callable[..., Path], runner: CliRunner) -> None:
    document = plan_json(runner, str(write_routine(MINIMAL)))
    assert document["voices"] == [{"engine": "piper", "voice": BUNDLED}]


def test_auto_falls_back_to_pyttsx3_for_german(runner: CliRunner) -> None:
    document = plan_json(runner, str(ROUTINES / "nacken-de.yaml"))
    assert [v["engine"] for v in document["voices"]] == ["pyttsx3"]
    assert document["voices"][0]["voice"].endswith("/de")
    result = runner.invoke(cli, ["plan", str(ROUTINES / "nacken-de.yaml")])
    assert result.stdout.splitlines()[1] == f"Voice: pyttsx3 {document['voices'][0]['voice']}"


def test_an_explicit_engine_always_wins_over_auto(write_routine: Callable[..., Path]) -> None:
    """Routine, step and command line each name an engine; only `auto` voices are chosen for."""
    path = write_routine(
        """\
        title: T
        steps:
          - say: Routine voice.
          - say: Step voice.
            voice: {engine: espeak-ng}
          - say: Step voice, auto.
            voice: {name: en-gb}
        """
    )
    asked: list[tuple[str, str | None]] = []

    def choose(language: str, name: str | None) -> str:
        asked.append((language, name))
        return "piper"

    routine = resolve_auto(load(path), choose)  # load already resolved auto; resolving again changes nothing
    assert asked == []
    assert [routine.voice.engine, *(s.voice.engine for s in routine.steps if s.voice)] == [
        "piper",
        "espeak-ng",
        "pyttsx3",  # en-gb is no piper voice
    ]
    overridden = load(path, Overrides(engine="espeak-ng"))
    assert {overridden.voice.engine, *(s.voice.engine for s in overridden.steps if s.voice)} == {"espeak-ng"}


@pytest.mark.parametrize(
    ("voice", "engine"), [("joe", "piper"), ("en_US-joe-medium", "piper"), ("en-gb", "pyttsx3"), ("x.onnx", "piper")]
)
def test_auto_follows_the_voice_name(voice: str, engine: str, write_routine: Callable[..., Path]) -> None:
    assert load(write_routine(MINIMAL), Overrides(voice=voice)).voice.engine == engine


def test_a_voice_file_is_found_beside_the_routine_wherever_it_is_run_from(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "clients" / "anna"
    (folder / "voices").mkdir(parents=True)
    model = copy_bundled(folder / "voices", "calm")
    (folder / "routine.yaml").write_text(MINIMAL + "voice: {name: voices/calm.onnx}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the routine's folder
    document = plan_json(runner, str(folder / "routine.yaml"))
    assert document["voices"] == [{"engine": "piper", "voice": "calm"}]
    assert load(folder / "routine.yaml").voice.name == str(model)


def test_resolve_auto_is_pure(write_routine: Callable[..., Path]) -> None:
    from voiceguide.routine.build import load_routine

    routine = load_routine(write_routine("title: T\nlanguage: de\nsteps:\n  - say: Hallo.\n"))
    assert routine.voice.engine == "auto"
    resolved = resolve_auto(routine, lambda language, _name: f"{language}-engine")
    assert resolved.voice == Voice(engine="de-engine")


# --- without the extra -------------------------------------------------------------------

BLOCK_PIPER = "import sys; sys.modules['piper'] = None; from voiceguide.cli.app import cli; cli()"


def test_without_the_extra_piper_exits_1_with_the_install_command(write_routine: Callable[..., Path]) -> None:
    path = write_routine(MINIMAL)
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_PIPER, "plan", str(path), "--engine", "piper"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert INSTALL in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_extra_auto_uses_pyttsx3(write_routine: Callable[..., Path]) -> None:
    path = write_routine(MINIMAL)
    done = subprocess.run([sys.executable, "-c", BLOCK_PIPER, "plan", "--json", str(path)], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert [v["engine"] for v in json.loads(done.stdout)["voices"]] == ["pyttsx3"]


# --- voices ------------------------------------------------------------------------------


def test_voices_lists_the_bundled_voice_and_folders(voices_dir: Path, runner: CliRunner) -> None:
    copy_bundled(voices_dir, "en_GB-copy-low")
    (voices_dir / "lonely.onnx").write_bytes(b"no config beside it")  # not a voice: skipped
    result = runner.invoke(cli, ["voices", "--engine", "piper"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == ["en_GB-copy-low", BUNDLED]
    assert rows[1] == [BUNDLED, "joe,", "medium", "quality,", "22050", "Hz", "en_US,", "en"]


def test_a_voice_by_path(tmp_path: Path, write_routine: Callable[..., Path], runner: CliRunner) -> None:
    model = copy_bundled(tmp_path, "my-voice")
    document = plan_json(runner, str(write_routine(MINIMAL)), "--voice", str(model))
    assert document["voices"] == [{"engine": "piper", "voice": "my-voice"}]


@pytest.mark.usefixtures("voices_dir")
def test_download_installs_a_checked_voice(voice_server: VoiceServer, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["voices", "download", BUNDLED], env={"VOICEGUIDE_VOICES_URL": voice_server.url})
    assert result.exit_code == 0, result.output
    folder = user_voice_folder()
    assert sorted(p.name for p in folder.iterdir()) == [f"{BUNDLED}.onnx", f"{BUNDLED}.onnx.json"]
    served = voice_server.root / "en" / "en_US" / "joe" / "medium" / f"{BUNDLED}.onnx"
    assert (folder / f"{BUNDLED}.onnx").read_bytes() == served.read_bytes()
    assert pick_voice(get_engine("piper"), BUNDLED, "en").model == folder / f"{BUNDLED}.onnx"  # it wins


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"md5_digest": "0" * 32}, "checksum differs"), ({"size_bytes": 1234}, "of 1234 bytes")],
)
@pytest.mark.usefixtures("voices_dir")
def test_a_broken_download_leaves_nothing(
    changes: dict[str, Any], reason: str, voice_server: VoiceServer, runner: CliRunner
) -> None:
    voice_server.catalogue(**changes)
    result = runner.invoke(cli, ["voices", "download", BUNDLED], env={"VOICEGUIDE_VOICES_URL": voice_server.url})
    assert result.exit_code == 1
    assert reason in result.stderr
    assert "fix:" in result.stderr
    assert list(user_voice_folder().iterdir()) == []  # no partial files, no half-installed voice


@pytest.mark.usefixtures("voices_dir")
def test_download_of_an_unknown_voice(voice_server: VoiceServer, runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["voices", "download", "en_US-joe-mdium"], env={"VOICEGUIDE_VOICES_URL": voice_server.url}
    )
    assert result.exit_code == 1
    assert "did you mean 'en_US-joe-medium'?" in result.stderr


def test_voices_download_has_help_with_an_example(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["voices", "download", "--help"])
    assert result.exit_code == 0
    assert "voiceguide voices download" in result.output


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "message", "fix"),
    [
        ("missing", "there is no Piper voice model at", "voiceguide voices download broken-voice"),
        ("model", "cannot load the Piper voice model", "voiceguide voices download broken-voice"),
        ("config", "is damaged", "voiceguide voices download broken-voice"),
    ],
)
def test_a_missing_or_corrupt_model_exits_1_with_the_fix(
    damage: str, message: str, fix: str, tmp_path: Path, write_routine: Callable[..., Path], runner: CliRunner
) -> None:
    model = copy_bundled(tmp_path, "broken-voice")
    if damage == "missing":
        model.unlink()
    elif damage == "model":
        model.write_bytes(model.read_bytes()[:100_000])
    else:
        Path(f"{model}.json").write_text("{not json", encoding="utf-8")
    result = runner.invoke(cli, ["plan", str(write_routine(MINIMAL)), "--voice", str(model), "--no-cache"])
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert fix in result.stderr
    assert "Traceback" not in result.output


def test_phoneme_brackets_are_read_out_not_obeyed() -> None:
    """Piper takes ``[[...]]`` as raw phonemes: unescaped, "Say [[slnc 3000]] now" lasted 1.13 s
    (0.6 s of phoneme noise more than "Say now", 0.54 s); read out as words it lasts 1.93 s."""
    assert len(trim(speak("Say [[slnc 3000]] now"))) > len(trim(speak("Say now"))) + SAMPLE_RATE


# --- settings and reproducibility --------------------------------------------------------

LINES = ("Gently squeeze and knead your left shoulder.", "Halfway. Keep breathing slowly, and let go.")


INSTRUCTIONS = (  # from routines/neck-and-back.yaml, whose lines the rate was calibrated on
    "Gently squeeze and knead your left shoulder, firmly. Keep going.",
    "Work up toward the base of your skull.",
    "Let your body sink onto the balls and breathe.",
    "Move the balls to a new stiff spot.",
)


@pytest.mark.parametrize("rate", [120, 200])
def test_rate_is_words_per_minute(rate: int) -> None:
    words = sum(len(re.findall(r"[\w']+", line)) for line in INSTRUCTIONS)
    seconds = sum(len(trim(speak(line, rate))) for line in INSTRUCTIONS) / SAMPLE_RATE
    assert words / seconds * 60 == pytest.approx(rate, rel=0.15)


def test_volume_scales_the_same_take() -> None:
    full, half = speak(LINES[0]), speak(LINES[0], volume=0.5)
    assert len(full) == len(half)
    assert np.abs(full.astype(np.int32) // 2 - half).max() <= 1


@pytest.mark.parametrize("cores", [None, 1, 8])
def test_a_line_is_the_same_in_any_order_any_process_and_on_any_number_of_cores(cores: int | None) -> None:
    """Other lines spoken first, or a fresh process on a machine with 1 or 8 cores (a run's threads
    are fixed, never the machine's), give the very same samples."""
    first = speak(LINES[0])
    speak(LINES[1])
    assert np.array_equal(speak(LINES[0]), first)
    script = (
        f"import os, sys\n{'' if cores is None else f'os.cpu_count = lambda: {cores}'}\n"
        "from voiceguide.speech.engines import get_engine, pick_voice; e = get_engine('piper')\n"
        f"sys.stdout.buffer.write(e.synthesise({LINES[0]!r}, pick_voice(e, None, 'en'), 150, 1.0).data)"
    )
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True).stdout
    assert np.array_equal(np.frombuffer(other, dtype="<i2"), first)


def test_one_line_is_spoken_at_a_time_per_two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """However many jobs speak, at most cores // THREADS runs hold their working memory at once."""
    from voiceguide.speech.engines import piper_model

    running, most = [0], [0]
    lock = threading.Lock()
    real_speak = piper_model.speak

    def counted(*args: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            return real_speak(*args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(piper_model, "speak", counted)
    engine = get_engine("piper")
    voice = pick_voice(engine, None, "en")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: engine.synthesise(f"Line number {n}.", voice, 150, 1.0), range(8)))
    assert most[0] == max(1, (os.cpu_count() or 1) // THREADS)


def test_the_noise_estimate_never_changes_a_take(monkeypatch: pytest.MonkeyPatch) -> None:
    """Too little noise for the line: the run is retried with more, and the take is the same."""
    from voiceguide.speech.engines import piper_model

    first = speak(LINES[1])
    monkeypatch.setattr(piper_model, "_NOISE_PER_PHONEME", 64)
    assert np.array_equal(speak(LINES[1]), first)


def test_a_16_khz_voice_is_resampled_to_the_track_rate(tmp_path: Path) -> None:
    """The bundled model declared 16 kHz: the same samples (same id, so the same take) last 22050/16000 as
    long (within 1%: the 10 ms fades at a line's edges are counted in the voice's own samples)."""
    model = copy_bundled(tmp_path, BUNDLED)
    config = json.loads(Path(f"{model}.json").read_text(encoding="utf-8"))
    config["audio"]["sample_rate"] = 16_000
    Path(f"{model}.json").write_text(json.dumps(config), encoding="utf-8")
    native, resampled = speak("And relax."), speak("And relax.", voice=str(model))
    assert len(resampled) == pytest.approx(len(native) * SAMPLE_RATE / 16_000, rel=0.01)


def test_resample_keeps_a_tone_clean() -> None:
    """A 1 kHz tone from 16 kHz to 22.05 kHz: still 1 kHz, nothing else above -80 dB."""
    tone = (np.sin(2 * np.pi * 1000 * np.arange(16_000) / 16_000) * 16_000).astype(np.int16)
    out = resample(tone, 16_000, SAMPLE_RATE)[1000:-1000].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    freqs = np.fft.rfftfreq(len(out), 1 / SAMPLE_RATE)
    assert abs(freqs[spectrum.argmax()] - 1000) < 5
    assert spectrum[np.abs(freqs - 1000) > 50].max() < spectrum.max() * 1e-4


def test_the_cache_key_follows_the_model_content(tmp_path: Path) -> None:
    model = copy_bundled(tmp_path, "keyed")
    digest = speech_cache.file_digest(model)
    (tmp_path / "other").mkdir()
    assert digest == speech_cache.file_digest(copy_bundled(tmp_path / "other", "keyed"))
    with model.open("ab") as out:
        out.write(b"\0")
    assert speech_cache.file_digest(model) not in ("", digest)


# --- a natural voice, offered where one is missing ---------------------------------------

GERMAN = "title: Nacken\nlanguage: de\nsteps:\n  - say: Neige den Kopf nach rechts.\n    hold: 2s\n"


def test_a_missing_natural_voice_is_offered_once_and_then_used(
    voices_dir: Path,
    voice_server: VoiceServer,
    write_routine: Callable[..., Path],
    runner: CliRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two German routines in one render: one tip, naming a real German voice and the command."""
    first = write_routine(GERMAN, "nacken.yaml")
    second = write_routine(GERMAN.replace("Nacken", "Schultern"), "schultern.yaml")
    result = runner.invoke(cli, ["render", str(first), str(second), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    tips = [line for line in result.stderr.splitlines() if line.startswith("Tip:")]
    assert tips == [
        "Tip: German is spoken with a system voice (pyttsx3), because no natural Piper voice for it is installed. "
        "Get one with: voiceguide voices download de_DE-thorsten-medium"
    ]
    command = tips[0].split("Get one with: ")[1].split()
    voice_id = command[-1]
    assert voice_id in downloadable("de")  # from the public list `voices download` reads

    voice_server.serve_copy(voice_id)  # the repository, on 127.0.0.1, with that voice
    monkeypatch.setenv("VOICEGUIDE_VOICES_URL", voice_server.url)
    assert command[:3] == ["voiceguide", "voices", "download"]
    assert runner.invoke(cli, command[1:]).exit_code == 0
    for installed in user_voice_folder().iterdir():  # into $VOICEGUIDE_VOICES_DIR, as a user may keep them
        shutil.move(installed, voices_dir / installed.name)
    result = runner.invoke(cli, ["plan", str(first)])
    assert result.exit_code == 0, result.output
    assert "Tip:" not in result.stderr
    assert result.stdout.splitlines()[1] == f"Voice: piper {voice_id}"


@pytest.mark.usefixtures("voices_dir")
def test_a_tip_only_where_auto_chose(write_routine: Callable[..., Path], runner: CliRunner) -> None:
    """A routine that names its engine or voice, or a language Piper speaks here, gets no tip."""
    for text, options in (
        (GERMAN, ["--engine", "pyttsx3"]),
        (GERMAN.replace("language: de", "language: de\nvoice: {name: de}"), []),
        (MINIMAL, []),
    ):
        result = runner.invoke(cli, ["plan", str(write_routine(text)), *options])
        assert result.exit_code == 0, result.output
        assert "Tip:" not in result.stderr
    assert "Tip: German" in runner.invoke(cli, ["validate", "--speech", str(write_routine(GERMAN))]).stderr
    assert "Tip:" not in runner.invoke(cli, ["validate", str(write_routine(GERMAN))]).stderr  # nothing is spoken


def test_voices_offers_the_natural_voices_to_download(
    voices_dir: Path, voice_server: VoiceServer, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = runner.invoke(cli, ["voices", "--language", "de"])
    assert result.exit_code == 0, result.output
    rows = [line.split(maxsplit=1) for line in result.stdout.splitlines()]
    assert ["gmw/de", "German                               de"] in rows  # the system's voice
    offered = [row[0] for row in rows if "not installed" in row[1]]
    assert offered == downloadable("de")
    assert "de_DE-thorsten-medium" in offered
    assert (
        result.stdout.splitlines()[-1] == "Get a natural voice with: voiceguide voices download de_DE-thorsten-medium"
    )
    for engine in ("piper", "pyttsx3"):
        assert "de_DE-thorsten-medium" in runner.invoke(cli, ["voices", "--engine", engine, "--language", "de"]).stdout

    voice_server.serve_copy("de_DE-thorsten-medium")
    monkeypatch.setenv("VOICEGUIDE_VOICES_URL", voice_server.url)
    download_voice("de_DE-thorsten-medium", voices_dir)
    installed = runner.invoke(cli, ["voices", "--engine", "piper", "--language", "de"]).stdout.splitlines()
    assert installed[0].split()[:2] == ["de_DE-thorsten-medium", "thorsten,"]  # installed, no longer offered
    assert not any(line.startswith("de_DE-thorsten-medium ") and "not installed" in line for line in installed)


def test_voices_in_german_is_no_dead_end(runner: CliRunner) -> None:
    """The issue's case: `--engine piper --language de` suggested "a code like en, de" to someone who typed de."""
    result = runner.invoke(cli, ["voices", "--engine", "piper", "--language", "de"])
    assert result.exit_code == 0, result.output
    assert "voiceguide voices download de_DE-thorsten-medium" in result.stdout
    result = runner.invoke(cli, ["voices", "--engine", "piper", "--language", "xx"])
    assert result.exit_code == 1
    assert "use a code like en, de or pt-br" in result.stderr


# --- the model's rewrite, kept once; no model for cached lines ----------------------------

CACHED_RENDER = (
    "import sys; from voiceguide.cli.app import cli; sys.argv = ['voiceguide', *sys.argv[1:]]\n"
    "try:\n    cli()\nexcept SystemExit:\n    pass\n"
    "print(sorted(m for m in ('onnxruntime', 'onnx', 'piper', 'numpy') if m in sys.modules))"
)


def test_a_cached_plan_loads_no_model_and_imports_no_onnxruntime(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_routine("title: T\nsteps:\n  - {say: A line for the cache only., hold: 2s}\n")
    env = {**os.environ, "VOICEGUIDE_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-c", CACHED_RENDER, "plan", str(path), "--engine", "piper"]
    cold = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert cold.stdout.splitlines()[-1] == "['numpy', 'onnxruntime', 'piper']"  # the model is edited without onnx
    warm = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert "onnxruntime" not in warm.stdout.splitlines()[-1]
    assert "piper" not in warm.stdout.splitlines()[-1]
    assert warm.stdout.split("\n")[:-2] == cold.stdout.split("\n")[:-2]  # the same plan


def test_the_rewritten_model_is_kept_once_and_read_back_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voiceguide.speech.engines import piper_model
    from voiceguide.speech.engines.piper_model import REWRITE, load_model, speak

    model = copy_bundled(tmp_path, "kept")
    keep = tmp_path / "models"
    keep.mkdir()
    earlier = keep / f"{speech_cache.file_digest(model)}-noise-inputs-1.onnx"  # an earlier edit's: removed
    other_model = keep / f"{'0' * 64}-noise-inputs-1.onnx"  # another model's: kept
    earlier.write_bytes(b"the earlier edit")
    other_model.write_bytes(b"another model")
    first = load_model(model, keep, THREADS)
    assert not earlier.exists()
    other_model.unlink()
    (kept,) = keep.iterdir()
    assert kept.name == f"{speech_cache.file_digest(model)}-{REWRITE}.onnx"
    assert first.noise_inputs == ("noise_0", "noise_1")
    monkeypatch.setattr(piper_model, "write_edited", lambda *_: pytest.fail("the kept rewrite was made again"))
    second = load_model(model, keep, THREADS)
    assert second.noise_inputs == first.noise_inputs
    assert speak(second, LINES[0], "kept", 1.0, 1.0) == speak(first, LINES[0], "kept", 1.0, 1.0)
    assert list(keep.iterdir()) == [kept]


def test_a_damaged_kept_rewrite_is_made_again(tmp_path: Path) -> None:
    from voiceguide.speech.engines.piper_model import load_model, speak

    model = copy_bundled(tmp_path, "mended")
    keep = tmp_path / "models"
    before = speak(load_model(model, keep, THREADS), LINES[1], "mended", 1.0, 1.0)
    (kept,) = keep.iterdir()
    kept.write_bytes(kept.read_bytes()[:1000])
    assert speak(load_model(model, keep, THREADS), LINES[1], "mended", 1.0, 1.0) == before
    assert kept.stat().st_size > 1000


def test_an_unwritable_cache_folder_still_speaks(tmp_path: Path) -> None:
    from voiceguide.speech.engines.piper_model import load_model, speak

    model = copy_bundled(tmp_path, "nowhere")
    (tmp_path / "file").write_text("not a folder")
    took = speak(load_model(model, tmp_path / "file" / "models", THREADS), LINES[0], "nowhere", 1.0, 1.0)
    assert took == speak(load_model(model, tmp_path / "models", THREADS), LINES[0], "nowhere", 1.0, 1.0)
