"""ffmpeg itself: which binary, running it (killed if we are interrupted), and decoding any audio file.

Every ffmpeg process voiceguide starts goes through this module or ``encode`` beside it.
Decoded audio arrives as mono 16-bit samples, in chunks of a few seconds, so memory does
not grow with a file's length.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voiceguide.errors import EncoderError

Samples = npt.NDArray[np.int16]

CHUNK_SECONDS = 10
FFMPEG_HINT = "reinstall with `pip install imageio-ffmpeg`, or install ffmpeg (`sudo apt-get install ffmpeg`)"


@cache
def ffmpeg() -> str:
    """$VOICEGUIDE_FFMPEG if set, else the system ffmpeg, else the imageio-ffmpeg wheel's binary."""
    chosen = os.environ.get("VOICEGUIDE_FFMPEG")
    if chosen:
        fix = "point VOICEGUIDE_FFMPEG at an ffmpeg binary, or unset it to use the one voiceguide finds"
        if shutil.which(chosen) is None:
            raise EncoderError(f"VOICEGUIDE_FFMPEG is set to {chosen!r}, which is not a program", fix)
        try:  # a wrong program here would otherwise fail later with advice about installing ffmpeg
            answer = subprocess.run([chosen, "-version"], capture_output=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            answer = b""
        if not answer.startswith(b"ffmpeg version"):
            raise EncoderError(f"VOICEGUIDE_FFMPEG is set to {chosen!r}, which does not answer like ffmpeg", fix)
        return chosen
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise EncoderError("ffmpeg is not installed", FFMPEG_HINT) from None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as err:
        raise EncoderError(f"ffmpeg is not usable: {err}", FFMPEG_HINT) from None


# ffmpeg opens nothing but files and pipes: no name can reach a network, device or `concat:` protocol
PROTOCOLS = ("-protocol_whitelist", "file,pipe")


def file_url(path: Path) -> str:
    """``path`` as ffmpeg must be given it: absolute, behind ``file:``, so it is never read as a protocol or URL."""
    return f"file:{os.path.abspath(path)}"


def broken_ffmpeg_fix() -> str:
    """The fix when an ffmpeg that runs fails at its job: name it, and how to use another."""
    return f"voiceguide ran {ffmpeg()}; point VOICEGUIDE_FFMPEG at another ffmpeg (4.4 or newer), or {FFMPEG_HINT}"


def run_ffmpeg(
    arguments: Sequence[str],
    chunks: Iterable[bytes] | None = None,
    stdout: int | None = None,
    pass_fds: Sequence[int] = (),
) -> tuple[int, str]:
    """Run ffmpeg, streaming ``chunks`` to its stdin (and its stdout to the file descriptor
    ``stdout``, if given; ``pass_fds`` it may write as ``pipe:N``); return its exit code and messages.

    ffmpeg is killed, never left running, if we are interrupted.
    """
    try:
        process = subprocess.Popen(
            [ffmpeg(), "-hide_banner", *PROTOCOLS, *arguments],
            stdin=subprocess.PIPE if chunks is not None else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            pass_fds=tuple(pass_fds),
        )
    except OSError as err:
        raise EncoderError(f"could not start ffmpeg: {err}", FFMPEG_HINT) from None
    assert process.stderr is not None
    try:
        if chunks is not None:
            assert process.stdin is not None
            try:
                for chunk in chunks:
                    process.stdin.write(chunk)
                process.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg stopped early; its exit status and message follow
        message = process.stderr.read().decode("utf-8", "replace").strip()
        return process.wait(), message
    except BaseException:
        process.kill()
        process.wait()
        raise


def failure(code: int, message: str) -> str:
    """What went wrong in a failed ffmpeg run, in a few words."""
    if code < 0:
        return f"it was stopped by signal {signal.Signals(-code).name}"
    return message.splitlines()[-1] if message else "no message"


def rate_of(path: Path) -> int:
    """The sample rate of an audio file, read from its header."""
    from mutagen import File as MutagenFile
    from mutagen import MutagenError

    try:
        info = MutagenFile(path)
    except MutagenError:  # e.g. a .mp3 name on something that is not MPEG audio
        info = None
    if info is None:
        raise EncoderError(
            f"{path} is not an audio file voiceguide can read",
            "give the path of an audio file (MP3, WAV, OGG, ...)",
        )
    return int(info.info.sample_rate)


def decode_stream(path: Path, rate: int, max_seconds: int | None = None) -> Iterator[Samples]:
    """Decode any audio file to mono 16-bit samples at ``rate``, in chunks of a few seconds."""
    source = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", *PROTOCOLS, "-i", file_url(path)]
    if max_seconds is not None:
        source += ["-t", str(max_seconds)]
    try:
        process = subprocess.Popen(
            [*source, "-f", "s16le", "-ac", "1", "-ar", str(rate), "pipe:1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as err:
        raise EncoderError(f"could not start ffmpeg: {err}", FFMPEG_HINT) from None
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        size = 2 * rate * CHUNK_SECONDS
        left = b""
        while block := process.stdout.read(size):
            block = left + block
            whole = len(block) - len(block) % 2
            left = block[whole:]
            yield np.frombuffer(block[:whole], dtype="<i2")
        message = process.stderr.read().decode("utf-8", "replace").strip()
        if process.wait() != 0:
            raise EncoderError(
                f"ffmpeg could not decode {path}: {message}",
                f"check that {path.name} plays in a media player; if it does not, convert it to MP3 or WAV",
            )
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


CHECK_RATE = 8000  # samples a second, enough to tell that a file decodes to sound


def unplayable(path: Path, max_seconds: int) -> tuple[str, str] | None:
    """What is wrong with audio file ``path`` and its fix, in plain words, if its first ``max_seconds``
    (as much as a render reads) do not decode to sound; ``None`` when they do.

    Decoded to the end of that part, stopping at the first damaged packet (``-xerror``), so a text
    file named .wav, a cut-off WAV or an empty file is found before anything is rendered."""
    fix = f"check that {path.name} plays to its end in a media player, then export it again as MP3 or WAV"
    try:
        if path.stat().st_size == 0:
            return f"{path.name} is empty (0 bytes)", "put the sound file itself there: this one holds nothing"
    except OSError as err:
        return f"{path.name} cannot be read: {err.strerror}", fix
    arguments = [ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-xerror", *PROTOCOLS]
    arguments += ["-t", str(max_seconds), "-i", file_url(path), "-map", "0:a:0"]
    arguments += ["-f", "s16le", "-ac", "1", "-ar", str(CHECK_RATE), "pipe:1"]
    try:
        done = subprocess.run(arguments, stdin=subprocess.DEVNULL, capture_output=True)  # killed if interrupted
    except OSError as err:
        raise EncoderError(f"could not start ffmpeg: {err}", FFMPEG_HINT) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().replace(f"{file_url(path)}: ", "")
        why = said.splitlines()[-1] if said else "no message"
        wrong = "it is not audio, or it is damaged or cut short"
        return f"{path.name} is not a sound file that plays to its end: {wrong} (ffmpeg: {why})", fix
    if not done.stdout:
        return f"{path.name} holds no sound (its audio is 0 seconds long)", fix
    return None


def decode_file(path: Path, sample_rate: int | None = None, max_seconds: int | None = None) -> tuple[Samples, int]:
    """Decode any audio file to mono 16-bit samples (resampled to ``sample_rate`` and cut
    after ``max_seconds`` if given); returns them with their sample rate."""
    rate = sample_rate if sample_rate is not None else rate_of(path)
    chunks = list(decode_stream(path, rate, max_seconds))
    return (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)), rate
