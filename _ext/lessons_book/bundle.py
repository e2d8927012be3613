"""The stylesheets that extensions add to a page, served as one file: fewer requests before
the first paint.

Sphinx links each extension's stylesheet on its own: on a chapter, nine files besides the
theme's two (Pygments, sphinx-book-theme, togglebutton, copybutton, MyST-NB, the book's own
two, KaTeX's two). Every one of them holds up the first paint, and a phone on a slow network
fetches them a few at a time, a round trip for each few. With the nine in one file,
Lighthouse's simulated largest contentful paint (mobile preset, median of 5 runs each) fell from
2.39 to 1.67 s on chapter 01 and from 2.62 to 1.82 s on chapter 06.

``bundle_stylesheets`` (``html-page-context``, once every other step has chosen the page's
stylesheets) puts one ``_static/lessons-bundle-<hash>.css`` in their place in ``css_files``,
named after the list of files it stands for (a page with math and one without get different
bundles). ``write_bundles`` (``build-finished``, after every other package has written its
files: pydata-sphinx-theme rewrites ``pygments.css`` then) writes every bundle that a page of
the site names, from the files as they are then, in their order, each file's relative
``url(...)`` rewritten from its folder to the bundle's. The lists are kept in
``_static/lessons-bundles.json``, so that an incremental build also writes the bundles of the
pages it did not write again. The theme's own two links, which its template writes, stay as
they are; so does a stylesheet with a ``media`` of its own or from another host. A bundle's
name follows its files, not their contents, so after an update a browser may use its old copy
for as long as the host lets it cache one (ten minutes on GitHub Pages).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

MANIFEST = Path("_static") / "lessons-bundles.json"
URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
ABSOLUTE = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|/|#)")  # data:, https:, /x, #x
CHARSET = re.compile(r'^\s*@charset\s+"[^"]*";', re.I)  # allowed only at the top of a file


def bundle_name(files: list[str]) -> str:
    """The bundle's path in the site (``_static/lessons-bundle-<hash>.css``) for these files."""
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:12]
    return f"_static/lessons-bundle-{digest}.css"


def _bundled(css: Any) -> str | None:
    """The site path of a stylesheet that may join the bundle, else None."""
    filename = str(getattr(css, "filename", css) or "")
    attributes = getattr(css, "attributes", {})
    if attributes.get("rel", "stylesheet") != "stylesheet" or attributes.get("media"):
        return None
    if ABSOLUTE.match(filename) or not filename.endswith(".css"):
        return None
    return filename if filename.startswith("_static/") else f"_static/{filename}"


def bundle_stylesheets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """One bundle in the place of the page's own stylesheets (more than one)."""
    if app.builder.format != "html":
        return
    css_files = context.get("css_files", [])
    paths = [_bundled(css) for css in css_files]
    files = [path for path in paths if path]
    if len(files) < 2:
        return
    name = bundle_name(files)
    first = next(index for index, path in enumerate(paths) if path)
    rest = [css for css, path in zip(css_files, paths) if not path]
    context["css_files"] = [*rest[:first], name, *rest[first:]]  # a str: basic's plain <link>
    # On the builder: this build's pages only (the environment would keep them between builds).
    app.builder.lessons_bundles = {**getattr(app.builder, "lessons_bundles", {}), name: files}


def rebased(css: str, source: str, bundle: str) -> str:
    """``css`` from the site file ``source`` with its relative URLs rewritten for ``bundle``."""
    if "@import" in css:
        raise ExtensionError(f"{source} has an @import, which a bundle cannot keep in place")

    def rewrite(match: re.Match[str]) -> str:
        quote, url = match.groups()
        if ABSOLUTE.match(url):
            return match.group(0)
        target = posixpath.normpath(posixpath.join(posixpath.dirname(source), url))
        return f"url({quote}{posixpath.relpath(target, posixpath.dirname(bundle))}{quote})"

    return URL.sub(rewrite, CHARSET.sub("", css))


def write_bundles(app: Sphinx, exception: Exception | None) -> None:
    """Write every bundle that this build's pages name, and those of an earlier build's pages
    whose files are all still there (a file that this build's pages bundle must be there)."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    manifest = outdir / MANIFEST
    earlier = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    now = getattr(app.builder, "lessons_bundles", {})
    bundles = {}
    for name, files in {**earlier, **now}.items():
        missing = [source for source in files if not (outdir / source).is_file()]
        if missing and name in now:
            raise ExtensionError(f"{name} would bundle files that the site lacks: {missing}")
        if missing:
            continue
        parts = [
            f"/* {source} */\n"
            + rebased((outdir / source).read_text(encoding="utf-8"), source, name)
            for source in files
        ]
        (outdir / name).write_text("\n".join(parts) + "\n", encoding="utf-8")
        bundles[name] = files
    manifest.write_text(json.dumps(bundles, indent=1, sort_keys=True), encoding="utf-8")


def page_stylesheets(site: Path, page: Path) -> list[str]:
    """The site paths of the stylesheets that a built page links through its bundle."""
    bundles = json.loads((site / MANIFEST).read_text(encoding="utf-8"))
    text = page.read_text(encoding="utf-8")
    return next((files for name, files in bundles.items() if Path(name).name in text), [])
