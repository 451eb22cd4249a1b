"""Versions of one routine: its named ``variants`` and the command line's ``--holds`` and ``--pace``.

A version scales the routine as it is read, before any check, so a hold made too
short for its countdown or cues is refused like any other, at its line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from voiceguide.model import Version, Voice
from voiceguide.routine.fields import VariantSchema
from voiceguide.routine.kinds import Context
from voiceguide.routine.schema import Section
from voiceguide.suggest import did_you_mean

MIN_RATE, MAX_RATE = 60, 450  # a voice's `rate` bounds, which a paced voice keeps to


@dataclass(frozen=True)
class Scale:
    """What one version does to the routine as written."""

    label: str | None = None  # said in the title and file name; None: the routine as written
    holds: float = 1.0
    pace: float = 1.0
    reps: int | None = None
    why: str = ""  # for messages about holds: " with `holds: 0.5` of variant 'quick'"
    fix: str = ""  # and their fix: "raise the holds factor of variant 'quick'"

    def hold(self, ms: int) -> int:
        """A hold's length in this version (a hold stays a hold)."""
        return max(1, round(ms * self.holds)) if ms else 0

    def silence(self, ms: int) -> int:
        """A rest, pause or gap in this version."""
        return round(ms / self.pace)

    def voice(self, voice: Voice) -> Voice:
        """``voice`` speaking at this version's pace."""
        return dataclasses.replace(voice, rate=min(MAX_RATE, max(MIN_RATE, round(voice.rate * self.pace))))

    def title(self, title: str) -> str:
        return f"{title} ({self.label})" if self.label else title


def scale(variants: dict[str, Section] | None, line: int, version: Version, ctx: Context) -> Scale:
    """The scale of ``version``: its variant's (from the routine's ``variants``; reported if it has
    none of that name) times the command line's factors."""
    declared = variants or {}
    label, holds, pace, reps = None, 1.0, 1.0, None
    sources: list[tuple[str, str]] = []  # where the holds factor comes from: for the message, for the fix
    if version.variant is not None:
        chosen = declared.get(version.variant)
        if chosen is None:
            known = ", ".join(declared)
            hint = did_you_mean(version.variant, list(declared)) or (
                f"; it declares {known}" if known else "; declare it under `variants:` (docs/routine-format.md)"
            )
            ctx.report(line if variants is not None else None, "variants", f"has no variant {version.variant!r}{hint}")
            return Scale()
        label = chosen.get(VariantSchema.name) or version.variant
        holds, pace = _first(chosen.get(VariantSchema.holds), 1.0), _first(chosen.get(VariantSchema.pace), 1.0)
        reps = chosen.get(VariantSchema.reps)
        if holds != 1:
            sources.append((f"`holds: {holds:g}` of variant {version.variant!r}", f"variant {version.variant!r}"))
    if version.holds != 1:
        sources.append((f"--holds {version.holds:g}", "--holds"))
    extra = [f"holds {version.holds:g}x"] * (version.holds != 1) + [f"pace {version.pace:g}x"] * (version.pace != 1)
    named = ", ".join([*([label] if label else []), *extra]) or None
    why = " with " + " and ".join(s for s, _ in sources) if sources else ""
    fix = "raise the holds factor of " + " or ".join(f for _, f in sources) if sources else ""
    return Scale(named, holds * version.holds, pace * version.pace, reps, why, fix)


def _first(value: float | None, fallback: float) -> float:
    return fallback if value is None else value
