"""Loudness: bring a whole track to a target integrated loudness with a safe true peak.

Plain gain clips (espeak-ng speech peaks near 0 dBFS at about -21 LUFS), and
ffmpeg's loudnorm falls back to its dynamic mode there, which resamples to
192 kHz and lands a LU or two off. So: gain, then a lookahead limiter run at 4x
the sample rate (so it sees inter-sample peaks), with its delay compensated so
every sample stays where the plan put it. MP3 encoding itself shifts loudness
and peaks a little, so the encoded file is measured and the gain corrected
until it is on target.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .audio import FFMPEG_HINT, encode_mp3, failure, run_ffmpeg
from .errors import EncoderError, Fault

DEFAULT_TARGET = -16.0  # LUFS, what podcast apps play at
TRUE_PEAK_CEILING = -1.0  # dBTP
TOLERANCE_LU = 0.5
FIRST_LIMIT = -2.0  # dBFS at 4x; MP3 encoding adds about half a dB of true peak
MIN_LIMIT = -24.0  # alimiter's lowest limit
SILENT_LUFS = -70.0  # ebur128's floor: nothing above the gate
MAX_ENCODES = 5
FIRST_SLOPE = 0.5  # LU per dB of extra gain near -16 LUFS, measured on espeak-ng speech through the limiter
OVERSAMPLE = 4
_SUMMARY = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS.*?Peak:\s+(-?[\d.]+|-inf) dBFS", re.S)


@dataclass(frozen=True)
class Loudness:
    """Integrated loudness (LUFS) and true peak (dBTP) of a whole track."""

    integrated: float
    true_peak: float


def measure_file(path: Path) -> Loudness:
    """EBU R128 integrated loudness and true peak of an audio file, as ffmpeg's ebur128 reads them."""
    return _ebur128(["-i", str(path)], None)


def measure_pcm(chunks: Iterable[bytes], sample_rate: int) -> Loudness:
    """The same measurement of mono 16-bit PCM, streamed."""
    return _ebur128(["-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0"], chunks)


def leveller(gain_db: float, limit_db: float, sample_rate: int) -> str:
    """The ffmpeg filter chain: gain, then a delay-compensated limiter at 4x the sample rate."""
    limit = 10 ** (limit_db / 20)
    return (
        f"volume={gain_db:.3f}dB,aresample={sample_rate * OVERSAMPLE},"
        f"alimiter=limit={limit:.5f}:attack=5:release=50:level=false:latency=true,aresample={sample_rate}"
    )


def encode_levelled(
    chunks: Callable[[], Iterable[bytes]], path: Path, sample_rate: int, bitrate_kbps: int, target: float | None
) -> str | None:
    """Encode ``chunks()`` to ``path`` at ``target`` LUFS (``None``: as is); return the filter chain used.

    ``chunks`` is called once per pass, so the track is streamed, never held whole.
    """
    source = None if target is None else measure_pcm(chunks(), sample_rate)
    if target is None or source is None or source.integrated <= SILENT_LUFS:
        encode_mp3(chunks(), path, sample_rate, bitrate_kbps)
        return None
    gain, limit = target - source.integrated, FIRST_LIMIT
    tried: list[tuple[float, Loudness]] = []
    for _ in range(MAX_ENCODES):
        filters = leveller(gain, limit, sample_rate)
        encode_mp3(chunks(), path, sample_rate, bitrate_kbps, filters)
        got = measure_file(path)
        if abs(got.integrated - target) <= TOLERANCE_LU and got.true_peak <= TRUE_PEAK_CEILING:
            return filters
        if got.true_peak > TRUE_PEAK_CEILING:
            limit = max(MIN_LIMIT, limit - (got.true_peak - TRUE_PEAK_CEILING) - 0.2)
        # a limited track gains less than its gain; estimate how much from the last try (secant)
        slope = FIRST_SLOPE
        if tried and gain != tried[-1][0]:
            slope = min(1.0, max(0.2, (got.integrated - tried[-1][1].integrated) / (gain - tried[-1][0])))
        tried.append((gain, got))
        gain += (target - got.integrated) / slope
    raise Fault(
        f"could not reach {target:g} LUFS with true peak at most {TRUE_PEAK_CEILING:g} dBTP "
        f"(last try: {got.integrated:.1f} LUFS, {got.true_peak:.1f} dBTP)",
        "choose a quieter target with --loudness, e.g. --loudness -18, or --loudness off",
    )


def _ebur128(source: list[str], chunks: Iterable[bytes] | None) -> Loudness:
    code, report = run_ffmpeg(
        ["-nostats", *source, "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"], chunks
    )
    found = _SUMMARY.search(report[report.rfind("Summary:") :])
    if code != 0 or found is None:
        raise EncoderError(f"ffmpeg could not measure loudness: {failure(code, report)}", FFMPEG_HINT)
    integrated, peak = (float(value) for value in found.groups())
    return Loudness(integrated, peak)
