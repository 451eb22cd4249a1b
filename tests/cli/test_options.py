"""Every command-line option, from the commands' own parameters: each one that changes what a command
writes is given a value other than its default, and the file is checked for it (real renders, espeak-ng).

An option added without a row in CHECKED, NOT_WRITTEN or ELSEWHERE fails
``test_every_option_of_every_command_has_a_row``.
"""

from __future__ import annotations

import importlib
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import feedparser
import numpy as np
import pytest
from click.testing import CliRunner
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from PIL import Image

from voiceguide.audio.ffmpeg import decode_file
from voiceguide.audio.loudness import measure_file
from voiceguide.cli.app import cli
from voiceguide.export.info import inspect
from voiceguide.export.layout import Export
from voiceguide.pipeline import Overrides, load, render
from voiceguide.publish.serve import Session

pytestmark = pytest.mark.render

ROUTINE = """\
title: Options
intro: Sit tall, and breathe slowly in and out through your nose.
steps:
  - name: Press
    say: Press your palms together firmly, and hold them there.
    hold: 2s
    countdown: 0
  - name: Relax
    say: Let your shoulders drop, and let your hands rest on your knees.
outro: Done.
"""
SPOKEN_BY = ("--engine", "espeak-ng")  # every run speaks with espeak-ng (fast), unless its row names an engine
BASE_URL = "https://example.com/r/"


@dataclass(frozen=True)
class Made:
    """What one command run left: its output, the folder it wrote to, and the track in it."""

    output: str
    folder: Path
    track: Path


def invoke(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


def run_render(runner: CliRunner, routine: Path, folder: Path, args: tuple[str, ...]) -> Made:
    if "-o" not in args:
        args = ("-o", str(folder), *args)
    output = invoke(runner, ["render", str(routine), *args])
    folder = Path(args[args.index("-o") + 1])
    return Made(output, folder, folder / f"{routine.stem}.mp3")


def run_publish(runner: CliRunner, routine: Path, folder: Path, args: tuple[str, ...]) -> Made:
    if "-o" not in args:
        args = ("-o", str(folder), *args)
    if "--base-url" not in args:
        args = ("--base-url", BASE_URL, *args)
    output = invoke(runner, ["publish", str(routine), *args])
    folder = Path(args[args.index("-o") + 1])
    return Made(output, folder, published_track(folder, routine.stem))


def run_serve(runner: CliRunner, routine: Path, _folder: Path, args: tuple[str, ...]) -> Made:
    """`serve` as typed, but ending at once instead of serving (its own test serves for real); it
    publishes to a folder of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Session, "run", lambda self, *_: self.sock.close())
        output = invoke(runner, ["serve", str(routine), "--host", "127.0.0.1", "--port", "0", *args])
    found = re.search(r"Published 1 routine to (.+) \(", output)
    assert found, output
    site = Path(found[1])
    return Made(output, site, published_track(site, routine.stem))


def published_track(site: Path, name: str) -> Path:
    """The track ``name`` in a site: ``tracks/<name>/<version>/<name>.mp3`` (a made-up path if there is none)."""
    found = sorted(site.glob(f"tracks/{name}/*/{name}.mp3"))
    return found[0] if len(found) == 1 else site / "tracks" / name / "missing" / f"{name}.mp3"


def run_plan(runner: CliRunner, routine: Path, folder: Path, args: tuple[str, ...]) -> Made:
    """`plan --json`, its document written to a file."""
    path = folder / "plan.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(invoke(runner, ["plan", str(routine), "--json", *args]), encoding="utf-8")
    return Made(path.read_text(encoding="utf-8"), folder, path)


RUNS: dict[str, Callable[[CliRunner, Path, Path, tuple[str, ...]], Made]] = {
    "render": run_render,
    "publish": run_publish,
    "serve": run_serve,
    "plan": run_plan,
}


class Reference:
    """Tracks and plans made once for the module: the default run of each command, and the routine
    rendered with the same setting written in its `voice` field instead of given as an option."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runner = CliRunner()
        self._made: dict[tuple[str, ...], Made] = {}
        self._samples: dict[Path, np.ndarray] = {}

    def routine(self, name: str, voice: str = "") -> Path:
        """The routine at a path of its own (``serve`` keeps one site per set of paths)."""
        path = self.folder / name / "options.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(ROUTINE + (f"voice: {voice}\n" if voice else ""), encoding="utf-8")
        return path

    def default(self, command: str) -> Made:
        """``command`` with nothing but the engine given."""
        key = (command,)
        if key not in self._made:
            routine = self.routine(f"default-{command}")
            self._made[key] = RUNS[command](self.runner, routine, routine.parent / "out", SPOKEN_BY)
        return self._made[key]

    def declared(self, voice: str) -> Path:
        """The track of the routine whose `voice` field says ``voice``."""
        key = ("declared", voice)
        if key not in self._made:
            routine = self.routine(f"declared-{len(self._made)}", voice)
            done = render(load(routine, Overrides()), routine.parent / "out", options=Export())
            self._made[key] = Made("", done.path.parent, done.path)
        return self._made[key].track

    def samples(self, track: Path) -> np.ndarray:
        if track not in self._samples:
            self._samples[track] = decode_file(track)[0]
        return self._samples[track]

    def seconds(self, track: Path) -> float:
        return len(self.samples(track)) / MP3(track).info.sample_rate


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return Reference(tmp_path_factory.mktemp("reference"))


@dataclass(frozen=True)
class Ran:
    """One row's run, for its checks: what it made, the module's references, and the command."""

    made: Made
    reference: Reference
    command: str


Check = Callable[[Ran], None]


def sounds_as_declared(voice: str) -> Check:
    """The track is, sample for sample, the routine's track with ``voice`` written in it."""

    def check(ran: Ran) -> None:
        if ran.command == "plan":
            return  # plan writes no track; its rows check the plan
        assert np.array_equal(
            ran.reference.samples(ran.made.track), ran.reference.samples(ran.reference.declared(voice))
        )

    return check


def differs_from_default(ran: Ran) -> None:
    default = ran.reference.default(ran.command).track
    if ran.command == "plan":
        assert ran.made.track.read_text(encoding="utf-8") != default.read_text(encoding="utf-8")
    else:
        assert not np.array_equal(ran.reference.samples(ran.made.track), ran.reference.samples(default))


def faster_than_default(ran: Ran) -> None:
    """Spoken faster: the whole track at least a second shorter."""
    if ran.command == "plan":
        duration = float(plan_document(ran.made)["duration"])
        default = float(plan_document(ran.reference.default(ran.command))["duration"])
    else:
        duration = ran.reference.seconds(ran.made.track)
        default = ran.reference.seconds(ran.reference.default(ran.command).track)
    assert duration < default - 1, (duration, default)


def plan_document(made: Made) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(made.output)
    return document


def voices_are(engine: str, voice: str | None = None) -> Check:
    """``plan``'s document names the voice that spoke (other commands: checked on the track)."""

    def check(ran: Ran) -> None:
        if ran.command != "plan":
            return
        (spoke,) = plan_document(ran.made)["voices"]
        assert spoke["engine"] == engine
        if voice is not None:
            assert spoke["voice"] == voice

    return check


def kbps(rate: int) -> Check:
    def check(ran: Ran) -> None:
        assert MP3(ran.made.track).info.bitrate == rate * 1000

    return check


def loudness(lufs: float) -> Check:
    def check(ran: Ran) -> None:
        assert measure_file(ran.made.track).integrated == pytest.approx(lufs, abs=1)  # 1 LU: hardly heard

    return check


def split_by_chapter(ran: Ran) -> None:
    chapters = [m.title for m in inspect(ran.reference.default(ran.command).track).chapters]
    parts = sorted((ran.made.folder / "options").glob("*.mp3"))
    assert len(parts) == len(chapters) >= 2
    assert [str(ID3(part)["TIT2"]) for part in parts] == chapters
    playlist = (ran.made.folder / "options.m3u8").read_text(encoding="utf-8")
    assert [line for line in playlist.splitlines() if line and not line.startswith("#")] == [
        f"options/{part.name}" for part in parts
    ]
    assert not ran.made.track.exists()


def no_sidecars(ran: Ran) -> None:
    assert ran.made.track.is_file()
    suffixes = (".lrc", ".vtt", ".chapters.json")
    assert not [s for s in suffixes if ran.made.track.with_suffix(s).exists()]
    default = ran.reference.default(ran.command).track
    assert all(default.with_name(default.stem + s).is_file() for s in suffixes)  # they are written by default


def prints_nothing(ran: Ran) -> None:
    assert ran.made.track.is_file()
    assert ran.made.output == ""


def written_to(name: str) -> Check:
    def check(ran: Ran) -> None:
        assert ran.made.folder.name == name
        assert ran.made.track.is_file()

    return check


def feed(made: Made) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(str(made.folder / "feed.xml"))
    assert not parsed.bozo
    return parsed


def feed_says(field: str, value: object) -> Check:
    def check(ran: Ran) -> None:
        assert feed(ran.made).feed[field] == value

    return check


def enclosure_under(base: str) -> Check:
    def check(ran: Ran) -> None:
        assert re.fullmatch(
            re.escape(base) + r"tracks/options/[0-9a-f]{8}/options\.mp3", feed(ran.made).entries[0].enclosures[0].href
        )

    return check


def artwork_from_image(ran: Ran) -> None:
    href = feed(ran.made).feed.image.href
    assert re.fullmatch(re.escape(BASE_URL) + r"cover\.[0-9a-f]{8}\.jpg", href)
    cover = Image.open(io.BytesIO((ran.made.folder / href[len(BASE_URL) :]).read_bytes()))
    assert cover.width == cover.height >= 1400
    assert cover.getpixel((cover.width // 2, cover.height // 2)) == pytest.approx((200, 40, 40), abs=8)


def jpeg(folder: Path) -> Path:
    path = folder / "photo.jpg"
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (600, 300), (200, 40, 40)).save(path)
    return path


VOICE = "en-gb-scotland"  # espeak-ng's default English is American
FAST = 260  # words a minute; the default is 150

# (command, option): the arguments that give it a value other than its default, and what the file must show.
# Arguments may name {tmp}: a folder for this run.
CHECKED: dict[tuple[str, str], tuple[tuple[str, ...], tuple[Check, ...]]] = {
    ("render", "--output"): (("-o", "{tmp}/elsewhere"), (written_to("elsewhere"),)),
    ("render", "--engine"): (("--engine", "espeak-ng"), (sounds_as_declared("{engine: espeak-ng}"),)),
    ("render", "--voice"): (
        ("--voice", VOICE),
        (sounds_as_declared(f"{{engine: espeak-ng, name: {VOICE}}}"), differs_from_default),
    ),
    ("render", "--rate"): (
        ("--rate", str(FAST)),
        (sounds_as_declared(f"{{engine: espeak-ng, rate: {FAST}}}"), faster_than_default),
    ),
    ("render", "--bitrate"): (("--bitrate", "128"), (kbps(128),)),
    ("render", "--loudness"): (("--loudness", "-21"), (loudness(-21),)),
    ("render", "--sidecars"): (("--no-sidecars",), (no_sidecars,)),
    ("render", "--split"): (("--split",), (split_by_chapter,)),
    ("publish", "--output"): (("-o", "{tmp}/elsewhere"), (written_to("elsewhere"),)),
    ("publish", "--base-url"): (
        ("--base-url", "https://example.org/mine"),
        (enclosure_under("https://example.org/mine/"),),
    ),
    ("publish", "--title"): (("--title", "Ana's routines"), (feed_says("title", "Ana's routines"),)),
    ("publish", "--author"): (("--author", "Ana Silva"), (feed_says("author", "Ana Silva"),)),
    ("publish", "--email"): (
        ("--email", "ana@example.com"),
        (feed_says("publisher_detail", {"name": "voiceguide", "email": "ana@example.com"}),),
    ),
    ("publish", "--description"): (("--description", "For Ana."), (feed_says("subtitle", "For Ana."),)),
    ("publish", "--image"): (("--image", "{jpeg}"), (artwork_from_image,)),
    ("publish", "--engine"): (("--engine", "espeak-ng"), (sounds_as_declared("{engine: espeak-ng}"),)),
    ("publish", "--voice"): (
        ("--voice", VOICE),
        (sounds_as_declared(f"{{engine: espeak-ng, name: {VOICE}}}"), differs_from_default),
    ),
    ("publish", "--rate"): (
        ("--rate", str(FAST)),
        (sounds_as_declared(f"{{engine: espeak-ng, rate: {FAST}}}"), faster_than_default),
    ),
    ("publish", "--bitrate"): (("--bitrate", "128"), (kbps(128),)),
    ("serve", "--title"): (("--title", "Ana's routines"), (feed_says("title", "Ana's routines"),)),
    ("serve", "--engine"): (("--engine", "espeak-ng"), (sounds_as_declared("{engine: espeak-ng}"),)),
    ("serve", "--voice"): (
        ("--voice", VOICE),
        (sounds_as_declared(f"{{engine: espeak-ng, name: {VOICE}}}"), differs_from_default),
    ),
    ("serve", "--rate"): (
        ("--rate", str(FAST)),
        (sounds_as_declared(f"{{engine: espeak-ng, rate: {FAST}}}"), faster_than_default),
    ),
    ("serve", "--bitrate"): (("--bitrate", "128"), (kbps(128),)),
    ("render", "--quiet"): (("--quiet",), (prints_nothing,)),
    ("publish", "--quiet"): (("--quiet",), (prints_nothing,)),
    ("plan", "--engine"): (("--engine", "espeak-ng"), (voices_are("espeak-ng"),)),
    ("plan", "--voice"): (("--voice", VOICE), (voices_are("espeak-ng", VOICE), differs_from_default)),
    ("plan", "--rate"): (("--rate", str(FAST)), (faster_than_default,)),
}

# Options that change nothing in what is written (only how fast, where it is served, or what is printed).
NOT_WRITTEN: dict[tuple[str, str], str] = {
    **{(command, "--jobs"): "lines synthesised at once: the same files, sooner" for command in RUNS},
    **{(command, "--no-cache"): "every line spoken afresh: the same files" for command in RUNS},
    ("validate", "--jobs"): "lines synthesised at once",
    ("validate", "--no-cache"): "every line spoken afresh",
    ("handout", "--jobs"): "lines synthesised at once",
    ("handout", "--no-cache"): "every line spoken afresh",
    # the voice only measures the length the sheet prints, as render would measure it
    **{("handout", option): "the track's length on the sheet" for option in ("--engine", "--voice", "--rate")},
}

# Options with a test of their own elsewhere (checked to exist): "module::test".
FILES_FROM = "test_files_inside::test_files_from_on_the_command_line_and_in_the_environment"
MAX_LENGTH = "test_hardening::test_max_length_also_lowers_the_limit"
VERSIONS = "test_breathing::test_holds_pace_and_a_variant_are_heard_in_the_audio"
ELSEWHERE: dict[tuple[str, str], str] = {
    ("render", "--watch"): "test_watch::test_watch_renders_every_save_in_turn",
    ("plan", "--json"): "test_cli::test_plan_json_has_the_documented_shape",
    ("validate", "--speech"): "test_cli::test_validate_speech_warns_about_every_moved_cue",
    ("serve", "--host"): "test_serve::test_cli_serves_prints_a_qr_code_and_stops_cleanly",
    ("serve", "--port"): "test_serve::test_cli_serves_prints_a_qr_code_and_stops_cleanly",
    ("voices", "--engine"): "test_cli::test_voices_lists_both_engines_voices",
    ("voices", "--language"): "test_cli::test_voices_lists_both_engines_voices",
    ("new", "--language"): "test_starter::test_new_writes_a_routine_that_validates_and_passes_the_schema",
    ("new", "--title"): "test_starter::test_new_routine_renders_as_written",
    ("new", "--force"): "test_starter::test_new_never_overwrites_without_force",
    ("handout", "--output"): "test_handout::test_letter_paper",
    ("handout", "--paper"): "test_handout::test_letter_paper",
    ("handout", "--url"): "test_handout::test_the_qr_code_scans_to_exactly_the_url",
    ("serve", "--author"): "test_libraries::test_cli_publish_prints_each_librarys_page",
    ("publish", "--loudness"): "test_publish::test_cli_publishes_at_the_loudness_asked_for_and_warns_as_render_does",
    ("serve", "--loudness"): "test_serve::test_serve_levels_the_voice_to_the_loudness_asked_for",
    **{(command, "--files-from"): FILES_FROM for command in ("render", "plan", "validate", "publish", "serve")},
    **{(command, "--max-length"): MAX_LENGTH for command in ("render", "plan", "validate", "publish", "serve")},
    **{(command, option): VERSIONS for command in ("render", "plan", "serve") for option in ("--holds", "--pace")},
    **{(command, "--variant"): VERSIONS for command in ("render", "plan", "serve")},
    ("publish", "--holds"): VERSIONS,
    ("publish", "--pace"): VERSIONS,
    ("publish", "--variant"): "test_breathing::test_publish_puts_every_variant_side_by_side",
}


def every_option(group: click.Group = cli, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(command, option) for every option of every command and group, by its first long name."""
    context = click.Context(group)
    for name in group.list_commands(context):  # the app loads each command when asked for it
        command = group.get_command(context, name)
        assert command is not None, name
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                yield f"{prefix}{name}", next(o for o in param.opts if o.startswith("--"))
        if isinstance(command, click.Group):
            yield from every_option(command, f"{prefix}{name} ")


def test_every_option_of_every_command_has_a_row() -> None:
    options = set(every_option())
    rows = [set(CHECKED), set(NOT_WRITTEN), set(ELSEWHERE)]
    assert sorted(options - set().union(*rows)) == [], "options without a row: add one to CHECKED (or the others)"
    assert sorted(set().union(*rows) - options) == [], "rows for options that no longer exist"
    assert sum(map(len, rows)) == len(options), "an option in two tables"


@pytest.mark.parametrize("where", sorted(set(ELSEWHERE.values())))
def test_the_tests_named_elsewhere_exist(where: str) -> None:
    module, name = where.split("::")
    assert callable(getattr(importlib.import_module(module), name, None)), where


@pytest.mark.parametrize(("command", "option"), sorted(CHECKED))
def test_an_option_changes_the_file_as_it_says(command: str, option: str, reference: Reference, tmp_path: Path) -> None:
    args, checks = CHECKED[command, option]
    args = tuple(a.format(tmp=tmp_path, jpeg=jpeg(tmp_path / "image")) for a in args)
    if "--engine" not in args:
        args = (*SPOKEN_BY, *args)
    routine = reference.routine(f"{command}{option}")
    made = RUNS[command](reference.runner, routine, tmp_path / "out", args)
    for check in checks:
        check(Ran(made, reference, command))
