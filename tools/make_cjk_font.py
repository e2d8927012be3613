"""Write ``lessons_lib/fonts/date-glyphs.otf``, the CJK glyphs the figures draw (committed).

    .venv/bin/python tools/make_cjk_font.py [--source /usr/share/fonts/opentype/noto/...ttc]

Run by a maintainer when the date formats gain a character, never by the build.
The date task's Chinese format, ``2026年11月27日``, writes three characters that matplotlib's
own font (DejaVu Sans) lacks, and the heatmaps of chapter 06 label their columns with the
source's characters. Colab, and many Jupyter machines, have no CJK font at all: there the
characters would come out as empty boxes, with a warning per glyph. So the package ships a
subset of Noto Sans CJK SC (Debian's ``fonts-noto-cjk``, SIL Open Font License 1.1) holding
only the CJK characters of :data:`lessons_lib.data.DATE_FORMATS`, under a family name of its
own, and :func:`lessons_lib.plotting.font_family` puts it after matplotlib's font, which
draws every other character as before.

The OFL lets a font be modified and redistributed with software, under the same licence;
the licence text ships beside the font (``lessons_lib/fonts/OFL.txt``).
``tests/test_plotting.py`` checks that the shipped font holds every non-ASCII character of the
date formats, so a new format with a character it lacks fails there, naming this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lessons_lib.data import DATE_FORMATS  # noqa: E402
from lessons_lib.plotting import DATE_GLYPHS_FAMILY, DATE_GLYPHS_FONT  # noqa: E402

SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SIMPLIFIED_CHINESE = "Noto Sans CJK SC"  # the collection holds JP, KR, SC, TC and HK faces


def date_characters() -> str:
    """The characters of the date formats that are not ASCII, sorted: ``"年日月"``."""
    return "".join(sorted({c for style in DATE_FORMATS for c in style if not c.isascii()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="Noto Sans CJK (.ttc)")
    args = parser.parse_args()
    if not args.source.exists():
        sys.exit(f"{args.source} not found: install Debian's fonts-noto-cjk, or pass --source")
    faces = TTCollection(args.source).fonts
    names = [face["name"].getDebugName(1) for face in faces]
    if SIMPLIFIED_CHINESE not in names:
        sys.exit(f"{args.source} has no {SIMPLIFIED_CHINESE!r} face, only {names}")
    font = faces[names.index(SIMPLIFIED_CHINESE)]
    characters = date_characters()
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the copyright and licence records
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    # A font of its own name, so that it never stands in for an installed Noto Sans CJK.
    name_table = font["name"]
    for record in name_table.names:
        if record.nameID in (1, 16):
            record.string = DATE_GLYPHS_FAMILY
        elif record.nameID in (3, 4):
            record.string = f"{DATE_GLYPHS_FAMILY} Regular"
        elif record.nameID == 6:
            record.string = DATE_GLYPHS_FAMILY.replace(" ", "") + "-Regular"
    DATE_GLYPHS_FONT.parent.mkdir(exist_ok=True)
    font.save(DATE_GLYPHS_FONT)
    print(f"{characters} from {SIMPLIFIED_CHINESE} -> {DATE_GLYPHS_FONT.relative_to(ROOT)}")
    print(f"{DATE_GLYPHS_FONT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
