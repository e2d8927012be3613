"""The language of the package's feedback: English, or Chinese for the book's Chinese edition.

The Chinese notebooks' setup cell calls ``lessons_lib.set_language("zh_CN")``. From then on the
checkers' verdicts, their success messages and the mistakes they name with their hints, and the
explorers' control labels, come in Chinese wherever the catalog
``lessons_lib/locale/zh_CN/LC_MESSAGES/lessons_lib.po`` translates them. Python's
:mod:`gettext` reads the compiled ``.mo`` beside it (both made by ``tools/translations.py``).
A message assembled from numbers at run time, such as "expected shape (2, 3), got (3, 2)",
stays English.

>>> set_language("zh_CN")
>>> translate("❌ Not yet:")
'❌ 还没对：'
>>> set_language("en")
>>> translate("❌ Not yet:")
'❌ Not yet:'
"""

from __future__ import annotations

import gettext
from pathlib import Path

LANGUAGES = ("en", "zh_CN")
DOMAIN = "lessons_lib"
LOCALE = Path(__file__).resolve().parent / "locale"

_current: dict[str, object] = {"language": "en", "catalog": gettext.NullTranslations()}


def set_language(language: str) -> None:
    """Give the checkers' and explorers' messages in ``language``: ``"en"`` or ``"zh_CN"``."""
    if not isinstance(language, str):
        raise TypeError(f"language must be a string such as 'zh_CN', got {type(language).__name__}")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    if language == "en":
        catalog: gettext.NullTranslations = gettext.NullTranslations()
    else:
        catalog = gettext.translation(DOMAIN, localedir=LOCALE, languages=[language])
    _current.update(language=language, catalog=catalog)


def current_language() -> str:
    """The language set by :func:`set_language` (``"en"`` until it is called)."""
    return str(_current["language"])


def translate(text: str) -> str:
    """``text`` in the current language, or as it is when the catalog has no translation."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    if not text:
        return text
    catalog = _current["catalog"]
    assert isinstance(catalog, gettext.NullTranslations)
    return catalog.gettext(text)
