"""Piper voices run: the model rewritten for reproducible takes, kept once per model, and spoken.

Reproducible takes: a Piper model draws Gaussian noise inside the network (two
``RandomNormalLike`` nodes). onnxruntime seeds those nodes once, when the session is
created, and every run advances them, so ``onnxruntime.set_seed`` before a line does not
make it repeatable (measured on onnxruntime 1.32: the same line with the same seed came out
50,176 then 49,664 samples long) and a session per line costs 0.1-0.4 s. Instead the model
is rewritten so that each of those nodes reads the first elements of an extra input; we fill
that input from a generator seeded by a digest of (text, voice, settings). The noise of a line
is then a function of the line alone: identical in any process, in any order, in parallel or
serial, cached or not, with no lock and no global state.

The rewrite (``piper_noise``) is made once per model content and kept as a file
(``<digest>-<REWRITE>.onnx``), which onnxruntime then reads itself: a run holds one copy of the
model, the session's.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voiceguide.errors import EngineError
from voiceguide.files import atomic_path
from voiceguide.speech.cache import file_digest
from voiceguide.speech.engines.base import PCM, EncodedAudio
from voiceguide.speech.engines.piper_noise import write_edited

REWRITE = "noise-inputs-2"  # in the kept file's name: change it when piper_noise's edit changes
# Noise inputs are sized from the phoneme count, and made 4x longer if a line needs more; a line's
# noise is a prefix of one seeded stream, so the size never changes the result. The most any line
# of the bundled routines needed, at 60 to 300 words a minute, was 603 values a phoneme (times the
# length scale above 1); drawing 4096 took 9% of the synthesis time.
_NOISE_PER_PHONEME = 1024
_ATTEMPTS = 4
# Piper fades a line in and out below -40 dB of its peak (measured: 7-10 ms before the
# speech, 40-93 ms after it); a line is cut there, with a 10 ms fade against clicks, so a
# hold starts where the voice is heard to stop rather than after a stretch of near-silence.
EDGE = 0.01
FADE_SECONDS = 0.01


class Unloadable(Exception):
    """A model that onnxruntime or Piper cannot read, or the rewrite cannot edit; the message says why."""


@dataclass(frozen=True)
class Loaded:
    """A voice ready to speak: a ``PiperVoice`` (phonemiser, config) around the rewritten session."""

    voice: Any
    noise_inputs: tuple[str, ...]


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


def load_model(model: Path, keep: Path, threads: int) -> Loaded:
    """A session on the model's rewrite (see the module docstring), made and kept in ``keep`` if
    it is not there yet; a kept file onnxruntime cannot read is made again once. Each run uses
    ``threads`` threads, which is part of what a take is: the same line comes out different with
    one and with two."""
    try:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        if (os.cpu_count() or 1) < threads:  # waiting threads would spin on the core the run needs
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 4  # a run short of noise is retried (see _run), not an error to print
        config = PiperConfig.from_dict(json.loads(Path(f"{model}.json").read_text(encoding="utf-8")))
        kept = keep / f"{file_digest(model)}-{REWRITE}.onnx"
        for attempt in range(2):
            source = str(kept) if kept.is_file() else _rewrite(model, kept)
            try:
                session = onnxruntime.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])
                break
            except Exception:
                if attempt or source != str(kept):
                    raise
                kept.unlink(missing_ok=True)  # damaged on disk: made again from the model
    except Exception as err:  # onnxruntime raises its own, unrelated exception types; the edit NotAModel
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise Unloadable(reason) from None
    noise = sorted((i.name for i in session.get_inputs() if i.name.startswith("noise_")), key=lambda n: int(n[6:]))
    return Loaded(PiperVoice(session=session, config=config), tuple(noise))


def _rewrite(model: Path, kept: Path) -> str | bytes:
    """Rewrite ``model`` into ``kept``, written atomically, and remove the same model's rewrites by
    an earlier edit; returns its path, or the rewritten model itself when the cache folder cannot be
    written."""
    with model.open("rb") as source:
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(kept) as partial, partial.open("wb", buffering=0) as out:
                write_edited(source, out)
            digest = kept.name.removesuffix(f"-{REWRITE}.onnx")
            for earlier in kept.parent.glob(f"{digest}-*.onnx"):
                if earlier != kept:
                    earlier.unlink(missing_ok=True)
        except OSError:
            memory = io.BytesIO()
            write_edited(source, memory)
            return memory.getvalue()
    return str(kept)


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
