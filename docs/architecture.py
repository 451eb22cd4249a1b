"""The package's import graph, checked and drawn: ``python docs/architecture.py`` rewrites
``docs/architecture.svg``; ``tests/test_architecture.py`` fails while the tree breaks a rule
below or the picture is stale.

The rules: each module belongs to one layer, and imports only from its own layer or lower
ones (``TYPE_CHECKING`` and function-level imports count too); no two modules import each
other, directly or round a loop; no module is longer than ``MAX_LINES``; at most
``MAX_LOOSE`` modules sit loose in ``voiceguide/``.
"""

from __future__ import annotations

import ast
import html
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "voiceguide"
PICTURE = ROOT / "docs" / "architecture.svg"
MAX_LINES = 500
MAX_LOOSE = 8

# Lowest first. A module's layer is its subpackage, or its own name for a loose module.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("errors", "files", "durations", "progress", "suggest", "phrases", "model")),
    ("routine", ("routine",)),
    ("plan", ("plan",)),
    ("audio", ("audio",)),
    ("speech", ("speech",)),
    ("export", ("export",)),
    ("pipeline", ("pipeline",)),
    ("publish", ("publish",)),
    ("cli", ("cli", "__main__")),
)
RANK = {part: rank for rank, (_, parts) in enumerate(LAYERS) for part in parts}


@dataclass(frozen=True)
class Module:
    name: str  # dotted, without the "voiceguide." prefix: "audio.level"
    path: Path
    lines: int
    imports: frozenset[str]  # the voiceguide modules it imports, dotted likewise

    @property
    def layer(self) -> int:
        return RANK[self.name.split(".")[0]] if self.name != "__init__" else 0


def modules(package: Path = PACKAGE) -> dict[str, Module]:
    """Every module of ``package`` with what it imports from the package (absolute or relative)."""
    names = {_dotted(path, package): path for path in sorted(package.rglob("*.py"))}
    found: dict[str, Module] = {}
    for name, path in names.items():
        text = path.read_text(encoding="utf-8")
        imported = {target for target in _imports(ast.parse(text), name, path.name == "__init__.py") if target != name}
        found[name] = Module(name, path, len(text.splitlines()), frozenset(_resolve(imported, names)))
    return found


def _dotted(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, name: str, is_package: bool) -> Iterator[str]:
    """The dotted names (under voiceguide) that a module's import statements reach, wherever they stand."""
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("voiceguide."):
                    yield alias.name.removeprefix("voiceguide.")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1] if node.level > 1 else here
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif node.module and (node.module == "voiceguide" or node.module.startswith("voiceguide.")):
                module = node.module.removeprefix("voiceguide").removeprefix(".")
            else:
                continue
            for alias in node.names:  # ``from voiceguide.audio import level`` imports a module
                yield f"{module}.{alias.name}" if module else alias.name
            yield module


def _resolve(imported: set[str], names: dict[str, Path]) -> set[str]:
    """Each imported name as the module it lives in (``audio.level.Levelled`` -> ``audio.level``)."""
    resolved = set()
    for name in imported:
        target = name
        while target and target not in names:
            target = target.rpartition(".")[0]
        if target and target != "__init__":
            resolved.add(target)
    return resolved


def problems(found: dict[str, Module]) -> list[str]:
    """Every broken rule, in words."""
    found_problems = []
    loose = [m for m in found if "." not in m and m not in ("__init__", "__main__") and m in RANK]
    unknown = [m for m in found if m.split(".")[0] not in RANK and m != "__init__"]
    found_problems += [f"{m}: belongs to no layer; add it to LAYERS in docs/architecture.py" for m in unknown]
    if len([m for m in loose if found[m].path.name != "__init__.py"]) > MAX_LOOSE:
        found_problems.append(f"{len(loose)} modules sit loose in voiceguide/; at most {MAX_LOOSE} may")
    for module in found.values():
        if module.lines > MAX_LINES:
            found_problems.append(f"{module.name}: {module.lines} lines; at most {MAX_LINES}")
        if unknown:
            continue
        for target in sorted(module.imports):
            if found[target].layer > module.layer:
                found_problems.append(
                    f"{module.name} imports {target}, from a higher layer ({_layer_name(found[target])})"
                )
    found_problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(found)]
    return found_problems


def _layer_name(module: Module) -> str:
    return LAYERS[module.layer][0]


def cycles(found: dict[str, Module]) -> list[list[str]]:
    """One loop through each strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        for target in found[name].imports:
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == name:
                    break
            if len(group) > 1 or name in found[name].imports:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(found)))
    for name in sorted(found):
        if name not in index:
            visit(name)
    return [_loop(group, found) for group in groups]


def _loop(group: list[str], found: dict[str, Module]) -> list[str]:
    """A path from the group's first module back to itself, inside the group."""
    members, start = set(group), group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        name = queue.pop(0)
        for target in sorted(found[name].imports & members):
            if target == start:
                return [*paths[name], start]
            if target not in paths:
                paths[target] = [*paths[name], target]
                queue.append(target)
    return group


def stage_edges(found: dict[str, Module]) -> set[tuple[int, int]]:
    """Which layer imports from which other one."""
    return {(m.layer, found[t].layer) for m in found.values() for t in m.imports if found[t].layer != m.layer}


def picture(found: dict[str, Module]) -> str:
    """The layers as an SVG: highest at the top, each with its modules and the lower layers it
    imports from (imports run downhill, so every arrow points down)."""
    width, row, gap, left = 900, 74, 26, 20
    box = width - 2 * left
    height = len(LAYERS) * (row + gap)
    edges = stage_edges(found)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        '<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#556"/></marker></defs>',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for rank, (label, _) in enumerate(LAYERS):
        y = gap / 2 + (len(LAYERS) - 1 - rank) * (row + gap)
        names = sorted(
            m.name.removeprefix(f"{label}.")
            for m in found.values()
            if m.layer == rank and m.name not in ("__init__", label)
        )
        below = [LAYERS[target][0] for source, target in sorted(edges, reverse=True) if source == rank]
        uses = f"imports from: {', '.join(below)}" if below else "imports nothing of voiceguide's"
        out += [
            f'<rect x="{left}" y="{y}" width="{box}" height="{row}" rx="8" fill="#f4f6f8" stroke="#445"/>',
            f'<text x="{left + 12}" y="{y + 22}" font-size="15" font-weight="bold">{html.escape(label)}</text>',
            f'<text x="{left + 12}" y="{y + 43}" font-size="12" fill="#222">{html.escape("  ".join(names))}</text>',
            f'<text x="{left + 12}" y="{y + 62}" font-size="11" fill="#667">{html.escape(uses)}</text>',
        ]
        if rank:
            x, bottom = width / 2, y + row
            arrow = f'd="M{x},{bottom + 2} V{bottom + gap - 3}" stroke="#556" stroke-width="1.5" marker-end="url(#a)"'
            out.append(f"<path {arrow}/>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> int:
    found = modules()
    for problem in problems(found):
        print(problem, file=sys.stderr)
    PICTURE.write_text(picture(found), encoding="utf-8")
    print(f"wrote {PICTURE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
