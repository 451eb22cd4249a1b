"""The numbers a track's audio is made to, and the key of a chime's measures: without numpy, so
telling whether a track is current costs no heavy import.

The audio stage's modules (``loudness``, ``level``, ``mp3``, ``sounds``) make the audio to these;
the pipeline puts them in each track's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from voiceguide.model import Routine
from voiceguide.plan.script import Sound

DEFAULT_TARGET = -16.0  # LUFS, what podcast apps play at
LEVELLING = "voice"  # what the target is measured on: in every track's fingerprint, so older tracks are redone

LAYER3_BITRATES = {  # kbps by index, layer III
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 and 2.5
}
MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits

# Change it whenever `audio/sounds.py` makes a chime differently: measures kept under the old key are
# then never read again.
CHIMES_VERSION = 1


def bitrates(sample_rate: int) -> tuple[int, ...]:
    """The bitrates (kbps) an MP3 (layer III) at ``sample_rate`` can have."""
    return LAYER3_BITRATES[sample_rate in MPEG_RATES[3]][1:]


def chime_file(routine: Routine, sound: Sound) -> Path | None:
    """The routine's own file for ``sound``; ``None``: the built-in bell."""
    return routine.sounds.start if sound.name == "start" else routine.sounds.end


def chime_key(routine: Routine, sound: Sound, sample_rate: int) -> str:
    """What ``routine``'s chime ``sound`` is made from, as a key: the built-in bell of its name, or
    the content of the routine's own file for it (read whole, so any change to it makes another
    key), at ``sample_rate``."""
    file = chime_file(routine, sound)
    content = ""
    if file is not None:
        digest = hashlib.blake2b(digest_size=32)
        with file.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        content = digest.hexdigest()
    fields = ["chime", CHIMES_VERSION, sound.name if file is None else "", content, sample_rate]
    return hashlib.sha256(json.dumps(fields).encode("utf-8")).hexdigest()
