"""The folder tree is the map: layers that import only downhill, no cycles, short modules, and a
picture (docs/architecture.svg) and page (docs/architecture.md) that match the tree."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _architecture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("architecture", ROOT / "docs" / "architecture.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


architecture = _architecture()


def test_the_package_keeps_every_rule_of_its_layout() -> None:
    assert architecture.problems(architecture.modules()) == []


def test_the_picture_of_the_layers_is_current() -> None:
    drawn = architecture.PICTURE.read_text(encoding="utf-8")
    assert drawn == architecture.picture(architecture.modules()), "run `python docs/architecture.py`"


def test_the_architecture_page_names_every_module() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for module in architecture.modules().values():
        if module.path.name != "__init__.py":
            shown = module.path.relative_to(ROOT / "voiceguide").as_posix()
            assert f"`{shown}`" in page, f"docs/architecture.md does not say what {shown} owns"


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"from __future__ import annotations\n{text}\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"audio/__init__.py": "", "audio/mix.py": "from voiceguide.pipeline import render", "pipeline.py": ""},
            "audio.mix imports pipeline, from a higher layer (pipeline)",
        ),
        (  # under TYPE_CHECKING, relatively: still an import
            {
                "export/__init__.py": "",
                "export/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B",
                "export/b.py": "from voiceguide.export.a import A",
            },
            "import cycle: export.a -> export.b -> export.a",
        ),
        (  # a function-level import of a module
            {
                "plan/__init__.py": "",
                "plan/timeline.py": "def f():\n    from voiceguide.audio import level",
                "audio/__init__.py": "",
                "audio/level.py": "",
            },
            "plan.timeline imports audio.level, from a higher layer (audio)",
        ),
        ({"model.py": "x = 1\n" * 500}, "model: 502 lines; at most 500"),  # with the __future__ line and the last
        ({"extra.py": ""}, "extra: belongs to no layer; add it to LAYERS in docs/architecture.py"),
    ],
    ids=["uphill", "type-checking cycle", "function-level uphill", "too long", "no layer"],
)
def test_each_broken_rule_is_named(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    assert problem in architecture.problems(architecture.modules(_package(tmp_path, files)))


def test_too_many_loose_modules_are_refused(tmp_path: Path) -> None:
    names = ("errors", "files", "durations", "progress", "suggest", "model", "pipeline")
    package = _package(tmp_path, {f"{name}.py": "" for name in names})
    assert architecture.problems(architecture.modules(package)) == []
    architecture_loose = architecture.MAX_LOOSE
    try:
        architecture.MAX_LOOSE = len(names) - 1
        assert f"{len(names)} modules sit loose in voiceguide/; at most {len(names) - 1} may" in architecture.problems(
            architecture.modules(package)
        )
    finally:
        architecture.MAX_LOOSE = architecture_loose
