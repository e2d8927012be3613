"""After a successful build: read the written pages, run the page steps in order, write back.

Each step leaves a page it has already handled as it is, so an incremental build may run them
over every page again at little cost; a page is written only when a step changed it.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx

from .accessibility import list_item_citations
from .frames import move_frames_to_files
from .images import lazy_images, sized_images
from .math import checked_math, copy_katex
from .phone_figures import executed_notebooks, narrow_copies, stack_figures_on_phones, unstacked
from .scripts import lighter_scripts
from .toggles import visible_sidebar_toggles

# The other edition's site inside this one (tools/zh_book.py builds and finishes it on its own).
NESTED_SITES = ("zh",)


def built_pages(outdir: Path) -> list[Path]:
    """The site's pages (not the theme's templates and sources under _static, _sources..., nor
    the pages of the Chinese edition in ``zh/``)."""
    return [
        path
        for path in sorted(outdir.rglob("*.html"))
        if not path.relative_to(outdir).parts[0].startswith("_")
        and path.relative_to(outdir).parts[0] not in NESTED_SITES
    ]


def finish_pages(app: Sphinx, exception: Exception | None) -> None:
    """The page steps, in the order that the package's docstring lists them."""
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    pages = {path: path.read_text(encoding="utf-8") for path in built_pages(outdir)}
    original = dict(pages)
    copy_katex(outdir, pages.values())
    pages = {path: checked_math(path, text) for path, text in pages.items()}
    move_frames_to_files(outdir, pages)
    todo = unstacked(pages)
    if todo:  # reading every executed chapter takes about half a second: only when needed
        cache = Path(app.srcdir, app.config.nb_execution_cache_path)
        stack_figures_on_phones(outdir, todo, narrow_copies(executed_notebooks(cache)))
        pages.update(todo)
    inline_search = bool(app.config.html_theme_options.get("search_as_you_type"))
    for path, text in pages.items():
        text = lazy_images(sized_images(path, text))
        keep_search = inline_search or path.relative_to(outdir).as_posix() == "search.html"
        text = list_item_citations(lighter_scripts(text, keep_search))
        pages[path] = visible_sidebar_toggles(text)
    for path, text in pages.items():
        if text != original[path]:
            path.write_text(text, encoding="utf-8")
