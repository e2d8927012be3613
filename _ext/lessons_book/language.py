"""A link on every page to the same page in the book's other language.

The English book lives at the site's root and the Chinese one in its ``zh/`` folder
(``tools/zh_book.py``). ``lessons_other_language`` (``_config.yml``; the Chinese build sets
its own) names the other edition: its label (and a short one for a phone's header), its
language tag and where its root lies from this one's (``zh`` or ``..``). Each page's header
then shows a link to the same page there, rendered by the theme from
``_ext/templates/lessons-language-switch.html``.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SWITCH = "lessons-language-switch.html"
KEYS = ("label", "lang", "root", "short", "title")


def add_language_switch(app: Sphinx, config: Config) -> None:
    """Put the switch first among the theme's header buttons, and serve its template."""
    other = config.lessons_other_language
    if not other:
        return
    if not isinstance(other, dict) or sorted(other) != sorted(KEYS):
        raise ValueError(
            f"lessons_other_language must be a mapping with the keys {KEYS}, got {other!r}"
        )
    options = dict(config.html_theme_options)
    end = options.get("article_header_end", ["article-header-buttons.html"])
    end = [end] if isinstance(end, str) else list(end)
    options["article_header_end"] = [SWITCH, *[name for name in end if name != SWITCH]]
    config.html_theme_options = options
    config.templates_path = [*config.templates_path, str(TEMPLATES)]


def other_language_page(root: str, pagename: str) -> str:
    """The relative address of page ``pagename`` in the edition whose root is at ``root``.

    >>> other_language_page("zh", "book/01_qkv")
    '../zh/book/01_qkv.html'
    >>> other_language_page("..", "book/01_qkv")
    '../../book/01_qkv.html'
    >>> other_language_page("zh", "index")
    'zh/index.html'
    """
    target = posixpath.normpath(posixpath.join(root, pagename + ".html"))
    return posixpath.relpath(target, posixpath.dirname(pagename) or ".")


def language_link(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Give the switch's template this page's address in the other edition."""
    other = app.config.lessons_other_language
    if other:
        context["lessons_language"] = {
            **other,
            "href": other_language_page(other["root"], pagename),
        }
