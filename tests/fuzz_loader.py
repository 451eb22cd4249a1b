"""Fuzz `voiceguide validate`: random bytes and mutated bundled routines.

Every input must end in exit 0, or exit 2 with a message: never a traceback, a hang
(``TIMEOUT_S`` per input) or more than ``MAX_RSS_MB`` of memory. The suite runs the
mutations for a few seconds through hypothesis (tests/plan/test_properties.py); this script
runs them for as long as you like, in-process for speed:

    python tests/fuzz_loader.py --minutes 10
    nice -n 10 python tests/fuzz_loader.py --minutes 60 --seed 7 --keep failures/

It prints how many inputs it tried, and writes each failing input to ``--keep``.
"""

from __future__ import annotations

import argparse
import random
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from click.testing import CliRunner

from voiceguide.cli.app import cli

ROUTINES = sorted((Path(__file__).resolve().parent.parent / "routines").glob("*.yaml"))
TIMEOUT_S = 10
MAX_RSS_MB = 200
MAX_INPUT = 1_100_000  # just past the loader's 1 MB limit

# pieces an attacker (or a clumsy editor) puts into YAML
TOKENS = [
    "\n", "\t", " ", "  ", ":", ": ", "- ", "-", "{", "}", "[", "]", ",", "&a ", "*a", "&b ", "*b", "!!str ",
    "!!python/object/apply:os.system ", "!x ", "!!binary ", "!!timestamp ", "!!set ", "!!omap ", "<<: *a", "? ",
    "'", '"', "\\", "\\ud83d", "\\x00", "#", "|", ">", "|-", ">+", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n",
    "...\n", "\x00", "\ufeff", "\x85", "\u2028", "\x07", "\r", "\r\n", "{side}", "{rep}", "{reps}", "{sied}", "{",
    "}", "{{side}}", "0s", "-0s", "half", "-1s", "1e999", "-1e999", ".inf", "-.inf", ".nan", "NaN", "0x10", "0o7",
    "1_000", "9" * 400, "1" + "0" * 5000, "2001-12-14t21:59:43.10-05:00", "2026-02-30", "~", "null", "true", "yes",
    "no", "on", "=", "", " \u00a0 ", "\u200b", "...", "!?", "🙂", "Ω", "é", "ß", "ǅ", "\U0010ffff", "both",
    "[right, right]", "[Left, left]", '""', "''", "' '", "[]", "{}", "[[[[[[[[", "]]]]]]]]", "hold: ", "say: ",
    "sides: ", "cues:\n  - at: 0s\n    say: x\n", "steps: ", "title: ", "voice: {engine: espeak-ng, name: zz}",
    "countdown: 20", "reps: 100", "count: 60", "chime: end", "remaining: [30s]", "background: {noise: pink}",
    "cover: /dev/zero", "sounds: {start: /dev/zero}", "phrases: {sides: [a, a]}", "language: xx",
    # text that is not text, written as YAML escapes
    '"A\\x01B"', '"Good\\0Evil"', '"\\e[2J"', '"\\u202eevil"', '"a\\u200bb"', '"\\x7f"', '"\\u2066x\\u2069"',
    # file fields that reach out of the routine's folder, or would be protocols for ffmpeg
    "cover: ../../x.png", "cover: /etc/x.png", "cover: ~/x.png", 'sounds: {start: "concat:h.wav|/etc/passwd"}',
    'background: {file: "http:127.0.0.1:1/rain.wav"}', "sounds: {end: /proc/self/environ}",
    "voice: {engine: piper, name: /tmp/x.onnx}", "voice: {engine: piper, name: ../x.onnx}",
]  # fmt: skip


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to eight random edits of ``data``: bytes, tokens, lines, repetition, nesting, encodings."""
    for _ in range(rng.randint(1, 8)):
        data = rng.choice(MUTATIONS)(rng, data)[:MAX_INPUT]
    return data


def _at(rng: random.Random, data: bytes) -> int:
    return rng.randint(0, len(data))


def _flip(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]


def _random_bytes(rng: random.Random, data: bytes) -> bytes:
    i = _at(rng, data)
    return data[:i] + rng.randbytes(rng.randint(1, 16)) + data[i:]


def _token(rng: random.Random, data: bytes) -> bytes:
    i = _at(rng, data)
    end = min(len(data), i + rng.randint(0, 12))
    return data[:i] + rng.choice(TOKENS).encode("utf-8", "surrogatepass") + data[end:]


def _delete(rng: random.Random, data: bytes) -> bytes:
    i = _at(rng, data)
    return data[:i] + data[i + rng.randint(1, 64) :]


def _repeat(rng: random.Random, data: bytes) -> bytes:
    """A region repeated, up to file-size scale (width, size and value-count limits)."""
    i = _at(rng, data)
    j = min(len(data), i + rng.randint(1, 200))
    times = rng.choice([2, 10, 100, 1_000, 20_000])
    return data[:j] + data[i:j] * times + data[j:]


def _lines(rng: random.Random, data: bytes) -> bytes:
    """Lines swapped, duplicated, re-indented or dropped."""
    lines = data.split(b"\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    action = rng.randrange(4)
    if action == 0:
        lines[i], lines[j] = lines[j], lines[i]
    elif action == 1:
        lines.insert(i, lines[j])
    elif action == 2:
        lines[i] = b" " * rng.choice([1, 2, 3, 4, 8]) + lines[i]
    else:
        del lines[i]
    return b"\n".join(lines)


def _long(rng: random.Random, data: bytes) -> bytes:
    """A key or a line of up to 1 MB at the start of a line: every explainer must stay linear."""
    piece = rng.choice([b"k", b"k-", b"1", b"a:", b" ,", b"x ", b"\t", b"'"])
    size = rng.choice([1_000, 50_000, 1_000_000]) // len(piece)
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    lines.insert(i, b" " * rng.choice([0, 2, 4]) + piece * size + rng.choice([b"", b":", b": v", b":v"]))
    return b"\n".join(lines)


def _scalar(rng: random.Random, data: bytes, value: bytes | None = None) -> bytes:
    """A value after a ``key:`` replaced by an odd one."""
    colons = [k for k in range(len(data)) if data[k : k + 2] == b": "]
    if not colons:
        return data
    i = rng.choice(colons) + 2
    end = data.find(b"\n", i)
    end = len(data) if end < 0 else end
    value = rng.choice(TOKENS).encode("utf-8", "surrogatepass") if value is None else value
    return data[:i] + value + data[end:]


def _nest(rng: random.Random, data: bytes) -> bytes:
    """Deep nesting in flow style as a value, or in block style anywhere."""
    depth = rng.choice([5, 30, 33, 100, 10_000, 100_000])
    if rng.random() < 0.5:
        opening, closing = rng.choice([(b"[", b"]"), (b"{a: ", b"}")])
        return _scalar(rng, data, opening * depth + b"x" + closing * depth)
    deep = b"".join(b"  " * k + b"- k:\n" for k in range(min(depth, 2_000)))
    i = _at(rng, data)
    return data[:i] + deep + data[i:]


def _aliases(rng: random.Random, data: bytes) -> bytes:
    """An alias bomb of random width and depth in front of the routine."""
    width, depth = rng.randint(2, 12), rng.randint(1, 12)
    bomb = "a0: &a0 [x]\n" + "".join(f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * width)}]\n" for k in range(1, depth))
    return bomb.encode() + data


def _encoding(rng: random.Random, data: bytes) -> bytes:
    """The text re-encoded, with or without a byte order mark, maybe cut in half."""
    text = data.decode("utf-8", "replace")
    encoded = text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32", "utf-32-be", "latin-1"]), "replace")
    return encoded[: rng.randint(0, len(encoded))] if rng.random() < 0.3 else encoded


def _splice(rng: random.Random, data: bytes) -> bytes:
    other = rng.choice(ROUTINES).read_bytes()
    i, j = _at(rng, data), rng.randint(0, len(other))
    return data[:i] + other[j : j + rng.randint(1, 400)] + data[i:]


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    _flip,
    _random_bytes,
    _token,
    _token,
    _scalar,
    _scalar,
    _delete,
    _repeat,
    _long,
    _lines,
    _lines,
    _nest,
    _aliases,
    _encoding,
    _splice,
]


def inputs(rng: random.Random) -> Iterator[bytes]:
    """Endless inputs: mostly mutated bundled routines, some random bytes."""
    originals = [path.read_bytes() for path in ROUTINES]
    while True:
        if rng.random() < 0.1:
            yield rng.randbytes(rng.randint(0, 2_000))
        else:
            yield mutate(rng, rng.choice(originals))


class Hang(Exception):
    """An input took longer than ``TIMEOUT_S``."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check(data: bytes, folder: Path, runner: CliRunner | None = None) -> str | None:
    """Run ``voiceguide validate`` on ``data``; ``None`` if it kept the contract, else what went wrong."""
    path = folder / "routine.yaml"
    path.write_bytes(data)
    try:
        with time_limit(TIMEOUT_S):
            result = (runner or CliRunner()).invoke(cli, ["validate", str(path)])
    except Hang as err:
        return f"hang: {err}"
    output = result.output
    if result.exit_code not in (0, 2):
        return f"exit {result.exit_code}: {result.exception!r}\n{output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"exception {result.exception!r}"
    if "Traceback" in output or not output.strip():
        return f"no message, or a traceback:\n{output}"
    if result.exit_code == 2 and "problem" not in output:
        return f"exit 2 without a problem count:\n{output}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"), help="folder for failing inputs")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    runner = CliRunner()
    deadline = time.monotonic() + args.minutes * 60
    tried = failed = 0
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for data in inputs(rng):
            if time.monotonic() > deadline:
                break
            tried += 1
            problem = check(data, folder, runner)
            if problem is None and rss_mb() > MAX_RSS_MB:
                problem = f"memory: peak {rss_mb():.0f} MB"
            if problem is not None:
                failed += 1
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"input-{failed}.yaml").write_bytes(data)
                print(f"FAILED input-{failed}.yaml: {problem[:2000]}", flush=True)
                if problem.startswith("memory"):
                    break
            if tried % 5_000 == 0:
                print(f"{tried:,} inputs, {failed} failures, peak {rss_mb():.0f} MB", flush=True)
    print(f"seed {args.seed}: {tried:,} inputs in {args.minutes:g} min, {failed} failures, peak {rss_mb():.0f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
