"""Files a routine names: resolved, kept inside its folder (or one the user trusts), and checked."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from voiceguide.routine.fields import COVER_TYPES, MAX_IMAGE_PIXELS
from voiceguide.routine.kinds import Context
from voiceguide.routine.schema import Field, Section


def picture_file(section: Section, f: Field[str], ctx: Context) -> Path | None:
    """The image file ``f`` names (the cover, a step's picture), resolved beside the routine file;
    it must exist and be a readable image now, not at render time."""
    name = section.get(f)
    if name is None:
        return None
    where, line = section.where(f), section.line(f)
    if (path := local_file(section, f, ctx)) is None:
        return None
    if path.suffix.lower() not in COVER_TYPES:  # of the file a link leads to, too
        ctx.report(line, where, f"expected a .jpg or .png image, got {name!r}")
    elif not path.is_file():
        ctx.report(line, where, f"no image file at {path}; give a path relative to the routine file")
    elif problem := _unreadable_image(path):
        ctx.report(line, where, problem)
    else:
        return path
    return None


def _unreadable_image(path: Path) -> str | None:
    """Why ``path`` is not a JPEG or PNG image a phone can show (decoded in full), or ``None``."""
    formats = {"image/jpeg": "JPEG", "image/png": "PNG"}
    wanted = formats[COVER_TYPES[path.suffix.lower()]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked here
            with Image.open(path) as image:
                found, (width, height) = image.format, image.size
                if width * height > MAX_IMAGE_PIXELS:  # before decoding a single pixel
                    return (
                        f"{path.name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), more than "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels; save a smaller copy (2000 pixels wide is plenty)"
                    )
                image.verify()  # checksums and structure
        with Image.open(path) as image:
            image.load()  # every pixel: a truncated file fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"{path.name} is not a readable {wanted} image ({err}); export the picture again as .jpg or .png"
    if found != wanted:
        right = ".png" if found == "PNG" else ".jpg"
        return f"{path.name} is a {found} image with a {path.suffix} name; rename it to {path.stem}{right}"
    return None


def audio_file(section: Section, f: Field[str], ctx: Context) -> Path | None:
    """The file ``f`` names, from the routine's folder; reported if it does not exist."""
    if (path := local_file(section, f, ctx)) is None:
        return None
    if not path.is_file():
        name = section.get(f)
        ctx.report(section.line(f), section.where(f), f"no such audio file {name!r} (a path from the routine's folder)")
    return path


def local_file(section: Section, f: Field[str], ctx: Context) -> Path | None:
    """The file that field ``f`` names, as an absolute path with every symlink resolved, if it lies
    inside the routine's folder or a trusted one (``--files-from``); otherwise reported, and ``None``.

    Every field that names a file goes through here: a routine someone sends reads nothing else."""
    if (name := section.get(f)) is None:
        return None
    folder = Path(ctx.source).parent.resolve()
    path = (folder / Path(name).expanduser()).resolve()
    if any(path.is_relative_to(root) for root in (folder, *(t.resolve() for t in ctx.trusted))):
        return path
    ctx.report(
        section.line(f),
        section.where(f),
        f"{name!r} is {path}, outside the routine's folder {folder}; copy the file into that folder, "
        f"or allow its folder with --files-from {path.parent}",
    )
    return None
