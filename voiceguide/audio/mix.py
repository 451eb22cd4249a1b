"""The assembled track: every clip at its sample offset, readable at any window, with the background bed beside it."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import numpy.typing as npt

from voiceguide.audio.ffmpeg import Samples
from voiceguide.plan.script import EventKind, Sound, Utterance
from voiceguide.plan.timeline import Timeline


class Mix:
    """The assembled track, readable at any window: every clip (speech, chimes) at its
    sample offset, and the background bed beside it (kept apart, because levelling
    changes the voice's gain and not the bed's)."""

    def __init__(
        self,
        timeline: Timeline,
        clips: Mapping[Utterance | Sound, Samples],
        bed: Callable[[int, int], npt.NDArray[np.float64]] | None = None,
    ) -> None:
        self.rate = timeline.sample_rate
        self.duration = timeline.duration
        self.bed = bed
        placed = sorted(
            ((e.start, clips[e.clip]) for e in timeline.events if e.clip is not None and e.duration),
            key=lambda pair: pair[0],
        )
        self._starts = np.array([start for start, _ in placed], dtype=np.int64)
        self._clips = [clip[: self.duration - start] for start, clip in placed]
        self._longest = max((len(c) for c in self._clips), default=0)
        self.speech = _merged(  # where lines are spoken: what the voice's loudness is measured over
            (e.start, min(e.start + e.duration, self.duration))
            for e in timeline.events
            if e.kind is EventKind.SPEECH and e.duration and e.start < self.duration
        )
        self._speech_starts = [lo for lo, _ in self.speech]

    def _near(self, start: int, end: int) -> range:
        lo = int(np.searchsorted(self._starts, start - self._longest, side="right"))
        return range(max(0, lo - 1), int(np.searchsorted(self._starts, end, side="left")))

    def voice(self, start: int, end: int) -> npt.NDArray[np.float64]:
        """Speech and chimes from sample ``start`` to ``end`` (16-bit scale, as floats; zeros outside the track)."""
        out = np.zeros(end - start)
        for i in self._near(start, end):
            offset, clip = int(self._starts[i]), self._clips[i]
            lo, hi = max(start, offset), min(end, offset + len(clip))
            if lo < hi:
                out[lo - start : hi - start] += clip[lo - offset : hi - offset]
        return out

    def speaks(self, start: int, end: int) -> bool:
        """Whether any clip sounds between ``start`` and ``end``."""
        return any(
            int(self._starts[i]) < end and int(self._starts[i]) + len(self._clips[i]) > start
            for i in self._near(start, end)
        )

    def speech_within(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of ``speech`` (where lines are spoken) between samples ``start`` and ``end``."""
        found = []
        for i in range(max(0, bisect.bisect_right(self._speech_starts, start) - 1), len(self.speech)):
            lo, hi = self.speech[i]
            if lo >= end:
                break
            if hi > start:
                found.append((max(lo, start), min(hi, end)))
        return found

    def spans(self, margin: int, grid: int) -> list[tuple[int, int]]:
        """Where clips sound, widened by ``margin`` and merged, with both ends on multiples of ``grid``."""
        spans: list[tuple[int, int]] = []
        for start, clip in zip(self._starts.tolist(), self._clips, strict=True):
            lo = max(0, start - margin) // grid * grid
            hi = -(-(start + len(clip) + margin) // grid) * grid
            if spans and lo <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], hi))
            else:
                spans.append((lo, hi))
        return spans


def _merged(spans: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """``spans`` sorted, with those that overlap or touch joined."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)
