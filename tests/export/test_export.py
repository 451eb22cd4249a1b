"""Phone-ready output on real rendered audio: chapters, tags, sidecars, loudness, split tracks."""

from __future__ import annotations

import datetime
import io
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import srt
from click.testing import CliRunner
from mutagen.id3 import ID3, CTOCFlags
from mutagen.mp3 import MONO, MP3, BitrateMode, MPEGFrame
from PIL import Image
from test_render import assert_audio_matches_plan

from voiceguide.audio import level as level_module
from voiceguide.audio.encode import Listen, Pcm, encode_mp3
from voiceguide.audio.ffmpeg import decode_file
from voiceguide.audio.level import Levelled
from voiceguide.audio.loudness import TRUE_PEAK_CEILING, TruePeak, db, measure_file
from voiceguide.audio.mix import Mix
from voiceguide.audio.mp3 import Cuts
from voiceguide.cli.app import cli
from voiceguide.durations import format_clock
from voiceguide.export import track as export_module
from voiceguide.export.layout import PLAYLIST_STAMP, Export
from voiceguide.export.stamp import read_fingerprint
from voiceguide.pipeline import BITRATES, Overrides, Plan, load, plan, render
from voiceguide.plan.present import plan_dict
from voiceguide.plan.timeline import SAMPLE_RATE, Timeline
from voiceguide.progress import SILENT

from conftest import ROUTINES, VOICE_TOLERANCE_LU, correlation, decoded, mix_of, speech_spans, voice_loudness

TOLERANCE = 0.010  # seconds
_CHAPTER = re.compile(r"Chapter #\d+:\d+: start (\S+), end (\S+)\n\s+Metadata:\n\s+title\s+: (.*)")


def probed_chapters(ffmpeg: str, path: Path) -> list[tuple[float, float, str]]:
    """Chapters as ffmpeg/ffprobe read them from the file: (start, end, title)."""
    report = subprocess.run([ffmpeg, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    return [(float(start), float(end), title.strip()) for start, end, title in _CHAPTER.findall(report)]


def lrc_lines(path: Path) -> tuple[dict[str, str], list[tuple[float, str]]]:
    """An LRC file's header tags and its timed lines (seconds, text)."""
    header: dict[str, str] = {}
    lines: list[tuple[float, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        timed = re.fullmatch(r"\[(\d+):(\d\d)\.(\d\d)\](.*)", line)
        if timed:
            minutes, seconds, hundredths, text = timed.groups()
            lines.append((int(minutes) * 60 + int(seconds) + int(hundredths) / 100, text))
        else:
            key, value = re.fullmatch(r"\[(\w+):(.*)\]", line).groups()  # type: ignore[union-attr]
            header[key] = value
    return header, lines


def vtt_cues(path: Path) -> list[tuple[float, float, str]]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n")

    def seconds(clock: str) -> float:
        h, m, s = clock.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = re.findall(r"\n\d+\n(\S+) --> (\S+)\n(.*)\n", text)
    return [(seconds(a), seconds(b), t) for a, b, t in cues]


def check_track(ffmpeg: str, mp3: Path, planned: Plan, background: bool = False) -> None:
    """Everything the issue promises about one whole-track render, against its plan."""
    plan = plan_dict(planned.timeline)
    chapters = probed_chapters(ffmpeg, mp3)
    assert [c[2] for c in chapters] == [c["title"] for c in plan["chapters"]]
    for (start, end, _), chapter in zip(chapters, plan["chapters"], strict=True):
        assert abs(start - chapter["start"]) <= TOLERANCE
        assert abs(end - chapter["end"]) <= TOLERANCE
    toc = ID3(mp3).getall("CTOC")
    assert len(toc) == 1
    assert toc[0].flags == CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED
    assert toc[0].child_element_ids == [f"ch{n}" for n in range(1, len(chapters) + 1)]

    speech = [(e["start"], e["duration"], e["text"]) for e in plan["events"] if e["kind"] == "speech"]
    header, lines = lrc_lines(mp3.with_suffix(".lrc"))
    routine = planned.routine
    assert (header["ti"], header["ar"], header["al"]) == (
        plan["title"],
        routine.author or "voiceguide",
        routine.album or routine.title,
    )
    assert [text for _, text in lines] == [text for _, _, text in speech]
    assert all(abs(at - start) <= TOLERANCE for (at, _), (start, _, _) in zip(lines, speech, strict=True))
    cues = vtt_cues(mp3.with_suffix(".vtt"))
    assert [text for _, _, text in cues] == [text.replace("&", "&amp;") for _, _, text in speech]
    for (start, end, _), (begins, length, _) in zip(cues, speech, strict=True):
        assert abs(start - begins) <= 0.001
        assert abs(end - (begins + length)) <= 0.001
    subtitles = list(srt.parse(mp3.with_suffix(".srt").read_text(encoding="utf-8")))  # the same cues, as SRT
    assert [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subtitles] == [
        (pytest.approx(start, abs=0.001), pytest.approx(end, abs=0.001), text.replace("&amp;", "&"))
        for start, end, text in cues
    ]
    document = json.loads(mp3.with_name(mp3.stem + ".chapters.json").read_text(encoding="utf-8"))
    assert document["version"] == "1.2.0"
    assert [(c["title"], c["startTime"], c["endTime"]) for c in document["chapters"]] == [
        (c["title"], pytest.approx(c["start"], abs=0.001), pytest.approx(c["end"], abs=0.001)) for c in plan["chapters"]
    ]

    voice = voice_loudness(ffmpeg, decoded(ffmpeg, mp3, planned.timeline.sample_rate), speech_spans(planned.timeline))
    assert voice == pytest.approx(-16.0, abs=VOICE_TOLERANCE_LU)
    assert measure_file(mp3).true_peak <= -1.0
    assert_audio_matches_plan(mp3, planned, background)  # normalising moved nothing and added no noise


def check_split(playlist: Path, timeline: Timeline, album: str, ffmpeg: str, whole: Path) -> None:
    """Parts against the plan: relative paths, true durations, exact cuts, n/N tags in one album;
    and the parts, decoded and joined, are the ``whole`` track decoded (``assert_parts_join_into``)."""
    lines = [line for line in playlist.read_text(encoding="utf-8").splitlines() if not line.startswith(PLAYLIST_STAMP)]
    entries = list(zip(lines[2::2], lines[3::2], strict=True))
    count = len(timeline.chapters)
    assert len(entries) == count
    for number, ((info, path), chapter) in enumerate(zip(entries, timeline.chapters, strict=True), start=1):
        assert not Path(path).is_absolute()
        assert ".." not in Path(path).parts
        mp3 = playlist.parent / path
        decoded, rate = decode_file(mp3)
        assert len(decoded) == chapter.end - chapter.start  # cut at the chapter's sample, decoded to the sample
        assert abs(float(info.removeprefix("#EXTINF:").split(",")[0]) - len(decoded) / rate) <= TOLERANCE
        tags = ID3(mp3)
        found = (str(tags["TRCK"]), str(tags["TALB"]), str(tags["TIT2"]))
        assert found == (f"{number}/{count}", album, chapter.title)
        # the part's own chapter spans it all, from its first sample
        assert probed_chapters(ffmpeg, mp3) == [(0.0, pytest.approx(len(decoded) / rate, abs=0.001), chapter.title)]
    parts = [decode_file(playlist.parent / path)[0] for path in lines[3::2]]
    assert_parts_join_into(parts, timeline, decode_file(whole)[0])


PART_WINDOW_SECONDS = 0.1


def assert_parts_join_into(
    parts: list[npt.NDArray[np.int16]], timeline: Timeline, whole: npt.NDArray[np.int16]
) -> None:
    """Each part, cut to its chapter's length, is the whole track's stretch of that chapter: the same
    shape in every 100 ms window with sound (correlation, so any level passes; two encodes' coding
    noise keeps it below 1, a stretch 100 ms off scores near 0), aligned to the sample; and the
    parts joined are as long as the whole."""
    rate = timeline.sample_rate
    window, lag = round(PART_WINDOW_SECONDS * rate), rate // 100
    heard = whole.astype(np.float64)
    joined = []
    for part, chapter in zip(parts, timeline.chapters, strict=True):
        cut = part[: chapter.end - chapter.start].astype(np.float64)
        joined.append(cut)
        same = heard[chapter.start : chapter.end]
        loudest = max(np.sqrt(np.mean(same[i : i + window] ** 2)) for i in range(0, len(same) - window + 1, window))
        for i in range(0, len(same) - window + 1, window):
            if np.sqrt(np.mean(same[i : i + window] ** 2)) > 0.05 * loudest:  # sound, not a hold's silence
                score = correlation(cut[i : i + window], same[i : i + window])
                assert score > 0.75, f"{chapter.title!r} at {i / rate:.2f} s into the part: correlation {score:.2f}"
        assert correlation(cut, same) > 0.9, chapter.title
        speech = np.flatnonzero(np.abs(same) > 0.1 * np.abs(same).max())  # align on the part's first sound
        lo = max(lag, int(speech[0]))
        if chapter.start + lo + window + lag <= len(heard):
            around = np.correlate(
                heard[chapter.start + lo - lag : chapter.start + lo + window + lag], cut[lo : lo + window], "valid"
            )
            assert int(np.argmax(around)) == lag, f"{chapter.title!r} is {int(np.argmax(around)) - lag} samples off"
    assert sum(len(j) for j in joined) == len(heard) == timeline.duration


def test_short_track_has_chapters_sidecars_loudness_and_exact_timing(
    rendered_short: tuple[Path, dict[str, Any], Plan], ffmpeg_exe: str
) -> None:
    check_track(ffmpeg_exe, rendered_short[0], rendered_short[2])


@pytest.mark.render
@pytest.mark.parametrize("routine", sorted(ROUTINES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_bundled_routine_is_phone_ready(routine: Path, tmp_path: Path, ffmpeg_exe: str) -> None:
    loaded = load(routine, Overrides(engine="espeak-ng"))
    whole = render(loaded, tmp_path)
    check_track(ffmpeg_exe, whole.path, whole.plan, loaded.background is not None)
    split = render(loaded, tmp_path / "split", options=Export(sidecars=False, split=True))
    check_split(split.path, whole.plan.timeline, loaded.album or loaded.title, ffmpeg_exe, whole.path)


def test_the_track_is_64_kbps_mono_as_read_from_its_own_frames(
    rendered_short: tuple[Path, dict[str, Any], Plan],
) -> None:
    """Channels, bitrate and rate from the MP3's frame headers (mutagen), not from a decode that mixes to mono."""
    info = MP3(rendered_short[0]).info
    assert (info.channels, info.mode, info.bitrate, info.sample_rate) == (1, MONO, 64_000, 22_050)
    assert info.bitrate_mode in (BitrateMode.CBR, BitrateMode.UNKNOWN)  # LAME's Info tag: constant bitrate


MPEG2_LAYER3_KBPS = vars(MPEGFrame)["_MPEGFrame__BITRATE"][(2, 3)]  # mutagen's table of the format


def frame_kbps(path: Path) -> list[int]:
    """The bitrate in each MPEG-2 layer III frame header of ``path`` (no ID3 tag), walked frame by frame."""
    data, found, at = path.read_bytes(), [], 0
    while at + 4 <= len(data):
        header = int.from_bytes(data[at : at + 4], "big")
        assert (header >> 21, (header >> 19) & 3, (header >> 17) & 3) == (0x7FF, 2, 1), (path, at)  # sync, v2, LIII
        kbps, padding = MPEG2_LAYER3_KBPS[(header >> 12) & 15], (header >> 9) & 1
        found.append(kbps)
        at += 72_000 * kbps // SAMPLE_RATE + padding
    assert at == len(data)
    return found


def test_every_bitrate_the_command_offers_is_one_the_track_has(tmp_path: Path) -> None:
    """``--bitrate`` offers exactly MPEG-2 layer III's rates from 32 kbps, and each is the one in
    every frame LAME writes, not one it rounded the figure to."""
    assert tuple(kbps for kbps in MPEG2_LAYER3_KBPS if kbps >= 32) == BITRATES
    tone = (np.sin(np.arange(SAMPLE_RATE) * 2 * np.pi * 440 / SAMPLE_RATE) * 8000).astype("<i2").tobytes()
    pcm = tone + bytes(2 * 5 * SAMPLE_RATE) + tone  # a silence long enough to be spliced in as ready frames
    for kbps in BITRATES:
        path = tmp_path / f"{kbps}.mp3"
        encode_mp3(Pcm.of(pcm), path, SAMPLE_RATE, kbps)
        _info, *audio = frame_kbps(path)  # LAME's Info frame takes the rate its tag needs
        assert len(audio) > 7 * SAMPLE_RATE // 576
        assert set(audio) == {kbps}
        assert MP3(path).info.sample_rate == SAMPLE_RATE


def test_tags_name_the_track_like_a_real_album(rendered_short: tuple[Path, dict[str, Any], Plan]) -> None:
    tags = ID3(rendered_short[0])
    assert tags.version == (2, 4, 0)
    found = {frame: str(tags[frame]) for frame in ("TIT2", "TPE1", "TALB", "TRCK", "TCON", "TLAN")}
    assert found == {
        "TIT2": "Short check",
        "TPE1": "Tester",
        "TALB": "Short check",
        "TRCK": "1",
        "TCON": "Speech",
        "TLAN": "eng",
    }
    written = datetime.datetime.fromtimestamp(rendered_short[0].stat().st_mtime)
    assert str(tags["TDRC"]) == str(written.year)  # the year it was made
    cover = tags.getall("APIC")[0]
    image = Image.open(io.BytesIO(cover.data))
    assert (cover.mime, cover.type, image.format, image.width == image.height) == ("image/png", 3, "PNG", True)


def test_a_routine_cover_image_is_embedded_as_is(write_routine: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "art").mkdir()
    Image.new("RGB", (300, 300), (200, 40, 40)).save(tmp_path / "art" / "front.jpg")
    path = write_routine(
        "title: Covered\nalbum: Series\ndescription: Gentle.\ncover: art/front.jpg\nsteps:\n  - say: Go.\n"
    )
    target = render(load(path, Overrides(engine="espeak-ng")), tmp_path / "out").path
    tags = ID3(target)
    assert tags.getall("APIC")[0].data == (tmp_path / "art" / "front.jpg").read_bytes()
    assert tags.getall("APIC")[0].mime == "image/jpeg"
    assert (str(tags["TALB"]), str(tags.getall("COMM")[0])) == ("Series", "Gentle.")
    assert str(tags["TPE1"]) == "voiceguide"  # no author given


@pytest.mark.parametrize(
    ("cover", "message"),
    [
        ("missing.png", "routine.yaml:2: cover: no image file at "),
        ("notes.txt", "routine.yaml:2: cover: expected a .jpg or .png image, got 'notes.txt'"),
    ],
)
def test_a_bad_cover_is_a_routine_error(
    cover: str, message: str, write_routine: Callable[..., Path], runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not a picture")
    path = write_routine(f"title: T\ncover: {cover}\nsteps:\n  - say: Go.\n")
    result = runner.invoke(cli, ["render", str(path), "-o", str(tmp_path / "out"), "--engine", "espeak-ng"])
    assert result.exit_code == 2
    assert message in result.stderr.replace(str(path), "routine.yaml")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "expected"), [("-20", -20.0), ("off", None)])
def test_loudness_option(
    option: str, expected: float | None, short_routine: Path, tmp_path: Path, runner: CliRunner, ffmpeg_exe: str
) -> None:
    args = ["render", str(short_routine), "-o", str(tmp_path), "--engine", "espeak-ng", "--no-sidecars"]
    result = runner.invoke(cli, [*args, "--loudness", option])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.mp3", "short.yaml"]
    mp3, timeline = tmp_path / "short.mp3", plan(load(short_routine, Overrides(engine="espeak-ng"))).timeline
    voice = voice_loudness(ffmpeg_exe, decoded(ffmpeg_exe, mp3, timeline.sample_rate), speech_spans(timeline))
    if expected is None:  # untouched: espeak-ng's own level, well below -16
        assert voice < -19
    else:
        assert voice == pytest.approx(expected, abs=VOICE_TOLERANCE_LU)
        assert measure_file(mp3).true_peak <= -1.0


def test_info_shows_tags_chapters_decoded_duration_and_loudness(
    rendered_short: tuple[Path, dict[str, Any], Plan], runner: CliRunner
) -> None:
    mp3, plan, _ = rendered_short
    result = runner.invoke(cli, ["info", str(mp3)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == ["short.mp3", "  Title     Short check", "  Artist    Tester"]
    assert "  Cover     image/png, " in result.stdout
    assert f"Chapters: {len(plan['chapters'])} (with table of contents)" in lines
    for chapter in plan["chapters"]:
        assert f"  {format_clock(chapter['start']):>11}  {chapter['title']}" in lines
    samples = round(plan["duration"] * plan["sample_rate"])
    assert f"Duration: {format_clock(plan['duration'])} (decoded: {samples:,} samples at 22050 Hz)" in lines
    speech = [e for e in plan["events"] if e["kind"] == "speech"]
    voice = re.search(rf"Voice: (\S+) LUFS over {len(speech)} spoken lines", result.stdout)
    assert voice is not None, result.stdout
    assert float(voice[1]) == pytest.approx(-16.0, abs=VOICE_TOLERANCE_LU)
    track = re.search(r"Track: (\S+) LUFS integrated, true peak (\S+) dBTP", result.stdout)
    assert track is not None, result.stdout
    assert float(track[2]) <= -1.0
    ratio = float(track[1]) - float(voice[1])
    assert f"Loudness-to-dialogue ratio: {ratio:+.1f} LU (the track against its voice)" in lines


def test_info_on_an_untagged_mp3_says_what_is_missing(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "plain.mp3"
    encode_mp3(Pcm.of(bytes(22050 * 2)), path, 22050, 64)
    result = runner.invoke(cli, ["info", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:3] == ["  Cover     none", "Chapters: none"]
    assert "Duration: 0:01.000 (decoded: 22,050 samples at 22050 Hz)" in result.stdout


def test_info_on_a_file_that_is_not_audio_exits_1(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("hello")
    result = runner.invoke(cli, ["info", str(path)])
    assert result.exit_code == 1
    assert "is not an audio file" in result.stderr


def test_an_unchanged_track_keeps_its_fingerprint_but_new_export_options_re_encode(
    short_routine: Path, tmp_path: Path
) -> None:
    loaded = load(short_routine, Overrides(engine="espeak-ng"))
    first = render(loaded, tmp_path / "out")
    assert read_fingerprint(first.path) is not None
    first.path.with_suffix(".lrc").unlink()
    assert not render(loaded, tmp_path / "out").encoded
    assert first.path.with_suffix(".lrc").is_file()  # an up-to-date track still gets its sidecars
    assert render(loaded, tmp_path / "out", options=Export(loudness=-20.0)).encoded
    assert render(loaded, tmp_path / "out", options=Export(loudness=-20.0, sidecars=False)).encoded


def test_a_loudness_out_of_clean_reach_renders_as_loud_as_it_goes_with_a_warning(
    short_routine: Path, tmp_path: Path, runner: CliRunner, ffmpeg_exe: str
) -> None:
    # speech limited to -1 dBTP cannot be made as loud as -5 LUFS without crushing it
    out = tmp_path / "out"
    result = runner.invoke(
        cli, ["render", str(short_routine), "-o", str(out), "--engine", "espeak-ng", "--loudness", "-5"]
    )
    assert result.exit_code == 0, result.output
    warning = re.search(
        r"Warning: .*short\.yaml: the voice is levelled to (-\d+\.\d) LUFS, not -5: louder, the limiter would take"
        r" more than 6 dB off it to keep the track's true peak at most -1 dBTP\n"
        r"  fix: choose a quieter target, e\.g\. --loudness (-\d+)\n",
        result.stderr,
    )
    assert warning is not None, result.stderr
    reached = float(warning[1])
    assert -15.5 < reached < -6.0
    assert int(warning[2]) <= reached
    timeline = plan(load(short_routine, Overrides(engine="espeak-ng"))).timeline
    mp3 = out / "short.mp3"
    voice = voice_loudness(ffmpeg_exe, decoded(ffmpeg_exe, mp3, timeline.sample_rate), speech_spans(timeline))
    assert voice == pytest.approx(reached, abs=VOICE_TOLERANCE_LU)
    assert measure_file(mp3).true_peak <= -1.0


def test_split_again_removes_parts_of_renamed_steps_and_nothing_else(
    write_routine: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    path = write_routine("title: T\nsteps:\n  - {name: Old name, say: Go.}\n  - {name: Kept, say: Stop.}\n", "r.yaml")
    render(load(path, Overrides(engine="espeak-ng")), out, options=Export(split=True))
    (out / "r" / "notes.txt").write_text("mine")
    path.write_text(path.read_text().replace("Old name", "New name"))
    render(load(path, Overrides(engine="espeak-ng")), out, options=Export(split=True, sidecars=False))
    assert sorted(p.name for p in (out / "r").iterdir()) == ["01 - New name.mp3", "02 - Kept.mp3", "notes.txt"]


# --- the encode loop on a synthetic mix: no routine, no engine, short real encodes ----------------------------


def voiced(seconds: float, seed: int) -> npt.NDArray[np.int16]:
    """Something like speech: harmonics of a gliding pitch under a syllable-rate envelope, and hiss."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    wave = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 30))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    hiss = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 1.3 * t) > 0.8)  # sibilants: what LAME lifts
    return np.round(4000 * wave * envelope + 2500 * hiss).astype(np.int16)


SYNTHETIC = [(0, voiced(2.0, 1)), (SAMPLE_RATE * 3, voiced(1.5, 2)), (SAMPLE_RATE * 6, voiced(2.5, 3))]
SYNTHETIC_LENGTH = SAMPLE_RATE * 10


class Stages:
    """A Progress that records what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.advanced = 0

    def stage(self, label: str, total: int) -> None:
        self.seen.append((label, total))

    def advance(self, steps: int = 1) -> None:
        self.advanced += steps


def test_an_mp3_over_the_ceiling_is_repaired_in_more_heard_encodes(
    tmp_path: Path, encodes: list[bool], monkeypatch: pytest.MonkeyPatch, ffmpeg_exe: str
) -> None:
    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: -0.5)  # a margin too small: peaks at -0.5 dBTP
    mix = mix_of(SYNTHETIC, SYNTHETIC_LENGTH)
    levelled = level_module.level(mix, -14.0, 64)  # loud enough for the limiter to hold many peaks
    path, stages = tmp_path / "t.mp3", Stages()
    export_module._encode(levelled, [(path, 0, SYNTHETIC_LENGTH)], 64, stages)
    chunks, count = levelled.chunks(levelled.pcm(0, SYNTHETIC_LENGTH)), len(encodes)
    assert encodes == [True] * count
    assert 2 <= count <= export_module.MAX_ENCODES  # two with ffmpeg 5.1, three with 9.0.2's LAME build
    assert stages.seen == [("Encoding", chunks)] * count
    assert stages.advanced == count * chunks
    assert measure_file(path).true_peak <= -1.0 - 0.05
    voice = voice_loudness(ffmpeg_exe, decoded(ffmpeg_exe, path, SAMPLE_RATE), list(mix.speech))
    assert voice == pytest.approx(-14.0, abs=VOICE_TOLERANCE_LU)


def test_a_peak_that_cannot_be_repaired_stops_after_three_encodes(
    tmp_path: Path, encodes: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: -1.0)
    levelled = level_module.level(mix_of(SYNTHETIC, SYNTHETIC_LENGTH), -14.0, 64)
    monkeypatch.setattr(Levelled, "corrected", lambda self, _overs: self)  # repairs nothing
    export_module._encode(levelled, [(tmp_path / "t.mp3", 0, SYNTHETIC_LENGTH)], 64, SILENT)
    assert encodes == [True] * export_module.MAX_ENCODES


def test_a_track_left_as_it_is_is_encoded_once_unheard(tmp_path: Path, encodes: list[bool]) -> None:
    mix = mix_of(SYNTHETIC, SYNTHETIC_LENGTH)
    files = [(tmp_path / "a.mp3", 0, SAMPLE_RATE * 4), (tmp_path / "b.mp3", SAMPLE_RATE * 4, SYNTHETIC_LENGTH)]
    export_module._encode(level_module.level(mix, None, 64), files, 64, SILENT)
    assert encodes == [False, False]
    assert [len(decode_file(path)[0]) for path, _, _ in files] == [SAMPLE_RATE * 4, SAMPLE_RATE * 6]


def test_a_split_part_over_the_ceiling_is_repaired_where_it_lies_in_the_whole_track(
    tmp_path: Path, encodes: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: -0.5)  # both parts peak over the ceiling
    half = SAMPLE_RATE * 5
    # the second part's sound lies 3 s into it, where the first part is silent: a repair placed
    # at its offset in the part, not in the track, would change nothing
    mix = mix_of([(0, voiced(1.5, 4)), (half + SAMPLE_RATE * 3, voiced(2.0, 5))], 2 * half)
    files = [(tmp_path / "a.mp3", 0, half), (tmp_path / "b.mp3", half, 2 * half)]
    export_module._encode(level_module.level(mix, -16.0, 64), files, 64, SILENT)
    assert 2 * 2 <= len(encodes) <= 2 * export_module.MAX_ENCODES
    assert [measure_file(path).true_peak <= -1.0 - 0.05 for path, _, _ in files] == [True, True]


def test_a_peak_over_the_ceiling_is_repaired_where_it_lies_after_cut_silence_and_in_any_piece(
    tmp_path: Path, encodes: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    from voiceguide.audio import encode as encode_module

    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: -0.5)  # the lines peak over the ceiling
    monkeypatch.setattr(encode_module, "PIECE_SECONDS", 1)
    # long silences before and between the lines: the encoder hears them shortened, in pieces; a repair
    # placed where the peak is in what it heard, not in the track, would land in silence and change nothing
    lines = [(SAMPLE_RATE * 20, voiced(1.5, 4)), (SAMPLE_RATE * 50, voiced(2.0, 5)), (SAMPLE_RATE * 80, voiced(1.5, 4))]
    mix = mix_of(lines, SAMPLE_RATE * 90)
    levelled = level_module.level(mix, -14.0, 64)
    peaks = []
    for jobs in (1, 3):
        assert len(levelled.pcm(0, mix.duration).pieces(SAMPLE_RATE, jobs).starts) == jobs - 1
        encodes.clear()
        export_module._encode(levelled, [(tmp_path / "t.mp3", 0, mix.duration)], 64, SILENT, jobs)
        assert len(encodes) >= 2  # it went over, and was repaired
        peaks.append(measure_file(tmp_path / "t.mp3").true_peak)
    assert peaks[1] <= -1.0 - 0.05
    assert peaks[1] == pytest.approx(peaks[0], abs=0.05)  # in pieces as well as whole


def lossless(
    heard_peaks: list[float],
) -> Callable[[Pcm, Path, int, int, Listen | None, int], Cuts]:
    """An encoder that changes nothing: what is heard is the PCM itself, so its true peak is exact."""

    def encode(pcm: Pcm, path: Path, _rate: int, _bitrate: int, listen: Listen | None = None, _jobs: int = 1) -> Cuts:
        wave = np.frombuffer(b"".join(pcm.read(0, pcm.length)), np.int16) / 32768
        path.write_bytes(b"")
        found = TruePeak()
        found.add(wave)
        found.flush()
        heard_peaks.append(db(found.peak))
        if listen is not None:
            listen(0)(wave)
        return Cuts()

    return encode


@pytest.mark.parametrize(
    ("margin", "peak", "count"),
    [
        (0.06, -1.06, 2),  # over the ceiling less the meters' guard (-1.1 dBTP): repaired and encoded again
        (0.12, -1.12, 1),  # just under it: left as it is
    ],
)
def test_a_heard_peak_is_judged_against_the_ceiling_less_the_guard_exactly(
    margin: float, peak: float, count: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard_peaks: list[float] = []
    monkeypatch.setattr(export_module, "encode_mp3", lossless(heard_peaks))
    monkeypatch.setattr(level_module, "mp3_margin", lambda _bitrate: margin)  # the limiter's ceiling: -1 - margin
    levelled = level_module.level(mix_of(SYNTHETIC, SYNTHETIC_LENGTH), -16.0, 64)
    export_module._encode(levelled, [(tmp_path / "t.raw", 0, SYNTHETIC_LENGTH)], 64, SILENT)
    assert heard_peaks[0] == pytest.approx(peak, abs=0.005)  # the limiter holds its ceiling that closely
    assert len(heard_peaks) == count
    assert heard_peaks[-1] <= TRUE_PEAK_CEILING - level_module.PEAK_GUARD_DB


@pytest.mark.parametrize(
    "options", [Export(), Export(split=True), Export(loudness=None)], ids=["whole", "split", "untouched"]
)
def test_export_reports_levelling_and_each_encode_as_stages_with_their_true_totals(
    options: Export, short_routine: Path, tmp_path: Path, encodes: list[bool]
) -> None:
    planned = plan(load(short_routine, Overrides(engine="espeak-ng")))
    timeline, stages = planned.timeline, Stages()
    mix = Mix(timeline, planned.clips)
    export_module.export(planned.routine, timeline, mix, tmp_path / "short", 64, options, None, stages)
    windows = [(c.start, c.end) for c in timeline.chapters] if options.split else [(0, timeline.duration)]
    chunks = sum(Levelled(mix, 1.0).chunks(Levelled(mix, 1.0).pcm(lo, hi)) for lo, hi in windows)
    attempts, unfinished = divmod(len(encodes), len(windows))
    assert attempts >= 1
    assert unfinished == 0
    levelling = [("Levelling", level_module.analysis_steps(mix))] if options.loudness is not None else []
    assert stages.seen == [*levelling, *[("Encoding", chunks)] * attempts]
    assert stages.advanced == sum(total for _, total in stages.seen)  # every bar fills, and no further
    # and with nothing to report to, it still writes the track
    assert export_module.export(planned.routine, timeline, mix, tmp_path / "quiet", 64, options).path.is_file()


@pytest.mark.parametrize("damage", ["truncated", "bytes-changed", "tag-kept-audio-replaced"])
def test_a_damaged_track_is_not_up_to_date_and_is_rendered_again(
    damage: str, short_routine: Path, tmp_path: Path
) -> None:
    """A truncated or edited MP3 was once still "Up to date": its tag kept the fingerprint."""
    loaded = load(short_routine, Overrides(engine="espeak-ng"))
    first = render(loaded, tmp_path / "out")
    good = first.path.read_bytes()
    if damage == "truncated":
        first.path.write_bytes(good[: len(good) - 5_000])
    elif damage == "bytes-changed":
        middle = len(good) - 10_000
        first.path.write_bytes(
            good[:middle] + bytes(b ^ 0xFF for b in good[middle : middle + 16]) + good[middle + 16 :]
        )
    else:
        first.path.write_bytes(good[: len(good) // 2] + good[len(good) // 2 :][::-1])
    assert read_fingerprint(first.path) is None
    again = render(loaded, tmp_path / "out")
    assert again.encoded
    assert read_fingerprint(again.path) is not None
    decoded, rate = decode_file(again.path)
    assert len(decoded) == pytest.approx(again.plan.timeline.duration * rate / again.plan.timeline.sample_rate, abs=2)
