"""Write the book's icon stylesheet, ``_ext/static/lessons-icons.css``, once; it is committed.

    make book
    .venv/bin/python tools/make_icons_css.py [--site _build/html] [--fontawesome PATH]
    make book        # serves the new stylesheet

Run by a maintainer, never by the build. The pages do not load the theme's
``fontawesome.js`` (1.5 MB of JavaScript that swaps each ``<i class="fa-...">`` for an SVG;
``_ext/lessons_book/scripts.py`` drops it): the stylesheet this script writes draws each icon
the pages use as a CSS mask of its SVG path, in the text's colour, and the extension serves it
from ``_ext/static/`` like the book's other static files.

Which icons: those in the markup of a built site (``--site``, ``_build/html`` by default),
read from each page's class attributes (``fa-solid fa-bars``, ``fab fa-github``, ...). The
theme's templates and ``_config.yml`` (repository, download and launch buttons) decide which
icons appear, so reading a built site finds exactly those, with no list to keep in step by
hand. The shapes: the icon packs of the installed theme's own ``fontawesome.js``
(pydata-sphinx-theme's, or ``--fontawesome PATH``), so they match the icons the theme draws.

An icon the stylesheet lacks (after a theme upgrade, say) is still drawn, by the theme's
Font Awesome web font (its stylesheet keeps the ``.fa-...::before`` glyphs), at the cost of
that font's download; ``tests/test_book_extension.py`` fails on such an icon and names this
script. An icon class that the theme's bundle does not hold stops this script with its name,
rather than leaving the icon to the web font unnoticed.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "_ext" / "static" / "lessons-icons.css"
SITE = ROOT / "_build" / "html"

# A page writes an icon's style as a long name (pydata-sphinx-theme: fa-solid) or a short one
# (sphinx-book-theme: fas); the bundle keys its packs by the short one.
ICON_STYLES = {
    "fa-solid": "fas",
    "fa-regular": "far",
    "fa-brands": "fab",
    "fas": "fas",
    "far": "far",
    "fab": "fab",
}
# Both spellings of a style, so that either in the markup finds the rule.
STYLE_CLASSES = {
    "fas": ("fa-solid", "fas"),
    "far": ("fa-regular", "far"),
    "fab": ("fa-brands", "fab"),
}
ICON_CLASS_ATTRIBUTE = re.compile(
    r'class="([^"]*(?<![\w-])(?:fa-solid|fa-regular|fa-brands|fas|far|fab)\b[^"]*)"'
)
# Classes that size or place an icon, or name its style: not icons.
NOT_ICON_NAMES = {*ICON_STYLES, "fa-lg", "fa-fw", "fa-xl", "fa-sm", "fa-2x"}
# One icon of a pack in the bundle: name:[width,height,[aliases],"unicode","svg path"]
BUNDLE_ICON = re.compile(
    r'(?:"([\w-]+)"|([A-Za-z_]\w*))'  # the name, quoted or not
    r':\[(\d+),(\d+),\[[^\]]*\],"\w+","([^"]+)"\]'  # :[width,height,[...],"f09b","M..."]
)
# The end of a pack: its object literal (var p={...}) is handed to d("fas", p).
BUNDLE_PACK = re.compile(r'\bd\("(fas|far|fab)",p\)')
# A rule of the stylesheet this script writes: .fas.fa-bars::before
STYLESHEET_ICON = re.compile(r"\.(fas|far|fab)\.fa-([\w-]+)::before")

Icon = tuple[str, str]  # (style, name): ("fab", "github")
Shape = tuple[int, int, str]  # (width, height, SVG path)


def theme_fontawesome() -> Path:
    """The installed pydata-sphinx-theme's fontawesome.js (sphinx-book-theme builds on it)."""
    import pydata_sphinx_theme

    theme = Path(pydata_sphinx_theme.__file__).resolve().parent
    return theme / "theme" / "pydata_sphinx_theme" / "static" / "scripts" / "fontawesome.js"


def fontawesome_icons(source: Path) -> dict[Icon, Shape]:
    """{(style, name): (width, height, SVG path)} of every icon in a fontawesome.js bundle.

    Each icon pack in the bundle is an object literal ``var p={name:[w,h,[aliases],
    "unicode","path"], ...}`` handed to ``d("fas", p)`` (solid), ``d("far", p)`` or
    ``d("fab", p)``.
    """
    if not isinstance(source, Path):
        raise TypeError(f"source must be a pathlib.Path, got {type(source).__name__}")
    if not source.is_file():
        raise ValueError(f"source must be the theme's fontawesome.js, got a missing file {source}")
    bundle = source.read_text(encoding="utf-8")
    found: dict[Icon, Shape] = {}
    start = 0
    for pack in BUNDLE_PACK.finditer(bundle):
        begin = bundle.rfind("var p={", start, pack.start())
        if begin >= 0:
            for match in BUNDLE_ICON.finditer(bundle, begin, pack.start()):
                name = match[1] or match[2]
                found.setdefault((pack[1], name), (int(match[3]), int(match[4]), match[5]))
        start = pack.end()
    if not found:
        raise ValueError(
            f'expected icon packs (var p={{...}}; d("fas",p)) in {source}, found none: '
            "the bundle's format has changed, and BUNDLE_ICON/BUNDLE_PACK need updating"
        )
    return found


def used_icons(pages: Iterable[str]) -> set[Icon]:
    """(style, name) of every Font Awesome icon in the pages' markup."""
    if isinstance(pages, str):
        raise TypeError("pages must be an iterable of page texts, got one str")
    used = set()
    for text in pages:
        if not isinstance(text, str):
            raise TypeError(f"pages must hold page texts (str), got {type(text).__name__}")
        for attribute in ICON_CLASS_ATTRIBUTE.finditer(text):
            classes = attribute[1].split()
            style = next(ICON_STYLES[c] for c in classes if c in ICON_STYLES)
            for name in classes:
                if name.startswith("fa-") and name not in NOT_ICON_NAMES:
                    used.add((style, name.removeprefix("fa-")))
    return used


def site_pages(site: Path) -> list[str]:
    """The texts of a built site's pages (not of the theme's files under _static and such)."""
    if not (site / "index.html").is_file():
        raise ValueError(f"site must be a built book (with index.html), got {site}")
    return [
        path.read_text(encoding="utf-8")
        for path in sorted(site.rglob("*.html"))
        if not path.relative_to(site).parts[0].startswith("_")
    ]


def icons_stylesheet(used: set[Icon], icons: dict[Icon, Shape]) -> str:
    """CSS that draws each used icon as an SVG mask in the text colour."""
    missing = sorted(f"{style} fa-{name}" for style, name in used - icons.keys())
    if missing:
        raise ValueError(
            "expected every icon the pages use in the theme's Font Awesome, but it lacks "
            f"{', '.join(missing)} (a class that is no icon belongs in NOT_ICON_NAMES)"
        )
    rules = [
        "/* Made by tools/make_icons_css.py from the theme's Font Awesome (CC BY 4.0 icons): the",
        "   icons the pages use, drawn without fontawesome.js or its web fonts. Do not edit: run",
        "   the script again (its docstring says when). */",
    ]
    for style, name in sorted(used):
        width, height, path = icons[(style, name)]
        svg = (
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}'>"
            f"<path d='{path}'/></svg>"
        )
        url = 'url("data:image/svg+xml;base64,' + base64.b64encode(svg.encode()).decode() + '")'
        icon_classes = [f".{style_class}.fa-{name}" for style_class in STYLE_CLASSES[style]]
        # The icon's own box keeps the text's font: a box in the Font Awesome font, even an
        # empty one, makes the browser download that font for its line metrics.
        rules.append(f"{','.join(icon_classes)}{{font-family:inherit}}")
        selectors = ",".join(f"{icon}::before" for icon in icon_classes)
        rules.append(
            f"{selectors}{{content:'';display:inline-block;"
            f"width:{width / height:.4f}em;height:1em;vertical-align:-0.125em;"
            f"background-color:currentColor;-webkit-mask:{url} center/contain no-repeat;"
            f"mask:{url} center/contain no-repeat}}"
        )
    return "\n".join(rules) + "\n"


def stylesheet_icons(css: str) -> set[Icon]:
    """(style, name) of every icon a stylesheet written by ``icons_stylesheet`` draws."""
    if not isinstance(css, str):
        raise TypeError(f"css must be the stylesheet's text (str), got {type(css).__name__}")
    return set(STYLESHEET_ICON.findall(css))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=SITE, help="a built book (%(default)s)")
    parser.add_argument("--fontawesome", type=Path, help="fontawesome.js (the theme's)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="(%(default)s)")
    arguments = parser.parse_args(argv)
    used = used_icons(site_pages(arguments.site))
    if not used:
        raise SystemExit(f"no Font Awesome icon found in the pages of {arguments.site}")
    icons = fontawesome_icons(arguments.fontawesome or theme_fontawesome())
    arguments.output.write_text(icons_stylesheet(used, icons), encoding="utf-8")
    names = ", ".join(f"{style} fa-{name}" for style, name in sorted(used))
    print(f"{arguments.output}: {len(used)} icons ({names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
