"""How far a long job is: stages with a known number of steps.

The CLI draws them as bars; everything else reports to ``SILENT``.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Progress(Protocol):
    """Where the pipeline reports how far it is (the CLI draws bars; tests pass nothing)."""

    def stage(self, label: str, total: int) -> None: ...

    def advance(self, steps: int = 1) -> None: ...


class Silent:
    """Progress that nobody watches."""

    def stage(self, label: str, total: int) -> None:
        pass

    def advance(self, steps: int = 1) -> None:
        pass


SILENT = Silent()


class Shared:
    """Progress reported from several threads at once (encoders side by side), one report at a time."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._lock = threading.Lock()

    def stage(self, label: str, total: int) -> None:
        with self._lock:
            self._progress.stage(label, total)

    def advance(self, steps: int = 1) -> None:
        with self._lock:
            self._progress.advance(steps)
