"""The package as a wheel user gets it: built, installed into a fresh venv, run from an empty folder."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import ROOT


def run(command: Sequence[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done


@pytest.mark.render
def test_a_wheel_installed_elsewhere_has_new_render_and_docs(tmp_path: Path) -> None:
    """Offline and quick: the wheel goes in without its dependencies, which the fresh venv finds in
    this venv's site-packages (a .pth line puts them after its own, so `voiceguide` is the wheel's)."""
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ROOT], tmp_path)
    (wheel,) = dist.glob("voiceguide-*.whl")
    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel], tmp_path)
    assert run([python, "-c", "import voiceguide; print(voiceguide.__file__)"], tmp_path).stdout.startswith(str(site))

    folder = tmp_path / "somewhere" / "else"
    folder.mkdir(parents=True)
    voiceguide = fresh / "bin" / "voiceguide"
    run([voiceguide, "new", "start.yaml"], folder)
    starter = (folder / "start.yaml").read_text(encoding="utf-8")
    assert "voiceguide docs" in starter
    for repository_path in ("docs/", "routines/", "schema/", "yaml-language-server"):
        assert repository_path not in starter

    rendered = run([voiceguide, "render", "start.yaml"], folder)
    assert "Warning" not in rendered.stderr, rendered.stderr
    assert (folder / "output" / "start.mp3").stat().st_size > 10_000

    whole = run([voiceguide, "docs"], folder).stdout
    assert whole == (ROOT / "docs" / "routine-format.md").read_text(encoding="utf-8")
    cues = run([voiceguide, "docs", "cues"], folder).stdout
    assert cues.startswith("cues, in each step, under `steps:`\n  Short lines spoken *during* the hold")
