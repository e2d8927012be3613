"""The language of the package's feedback (lessons_lib/language.py): checkers and explorers in
Chinese after set_language("zh_CN"), from a catalog that is complete, sound and compiled."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import torch
from babel.messages.mofile import read_mo, write_mo

import lessons_lib
from lessons_lib import language
from lessons_lib.checks import EXERCISES
from lessons_lib.checks.softmax import SOFTMAX, check_softmax
from lessons_lib.softmax import naive_softmax

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import translations  # noqa: E402


@pytest.fixture
def chinese():
    lessons_lib.set_language("zh_CN")
    try:
        yield
    finally:
        lessons_lib.set_language("en")


def catalog() -> dict[str, str]:
    path = translations.catalog_path(translations.PACKAGE_CATALOG)
    return {m.id: m.string for m in translations.read_catalog(path) if m.id and not m.fuzzy}


def test_english_until_asked_and_after_switching_back(chinese):
    assert language.current_language() == "zh_CN"
    assert language.translate("❌ Not yet:") == catalog()["❌ Not yet:"] != "❌ Not yet:"
    lessons_lib.set_language("en")
    assert language.current_language() == "en"
    assert language.translate("❌ Not yet:") == "❌ Not yet:"
    assert language.translate("no such message") == "no such message"


@pytest.mark.parametrize(("bad", "error"), [("fr", ValueError), ("zh", ValueError), (1, TypeError)])
def test_an_unknown_language_is_refused_and_the_old_one_kept(bad, error):
    with pytest.raises(error, match="language must be"):
        lessons_lib.set_language(bad)
    assert language.current_language() == "en"


def test_a_checker_names_the_mistake_in_chinese(chinese):
    result = check_softmax(lambda logits: naive_softmax(logits, dim=-1))  # the overflow slip
    mistake = SOFTMAX.mistakes[0]
    strings = catalog()
    assert not result.passed
    assert str(result).startswith(strings["❌ Not yet:"])
    assert strings[mistake.name] in result.message and strings[mistake.hint] in result.message
    assert mistake.hint not in result.message  # not the English hint
    right = check_softmax(lambda logits: torch.softmax(logits, dim=-1))
    assert str(right) == f"{strings['✅ Correct:']} {strings[SOFTMAX.success]}"


def test_every_named_mistake_and_success_has_a_chinese_form():
    strings = catalog()
    missing = [
        text
        for exercise in EXERCISES.values()
        for text in (exercise.success, *[t for m in exercise.mistakes for t in (m.name, m.hint)])
        if not strings.get(text)
    ]
    assert not missing, f"{len(missing)} without a translation, e.g. {missing[:3]}"


def test_an_explorer_labels_its_controls_in_chinese(chinese):
    from lessons_lib.widgets.add_norm import add_norm_explorer

    explorer = add_norm_explorer()
    labels = {name: control.description for name, control in explorer.controls.items()}
    assert labels["residual"] == catalog()["residual connections"] != "residual connections"


def test_the_compiled_catalog_is_the_catalog():
    po = translations.catalog_path(translations.PACKAGE_CATALOG)
    compiled = io.BytesIO()
    write_mo(compiled, translations.read_catalog(po), use_fuzzy=False)
    with po.with_suffix(".mo").open("rb") as handle:
        shipped = {m.id: m.string for m in read_mo(handle) if m.id}
    compiled.seek(0)
    fresh = {m.id: m.string for m in read_mo(compiled) if m.id}
    assert shipped == fresh, "lessons_lib.mo is stale: run python tools/translations.py update"
    assert language.LOCALE == po.parent.parent.parent


def test_the_package_catalog_holds_exactly_the_package_s_messages():
    wanted = {message for message, _ in translations.package_messages()}
    have = set(catalog()) | {
        m.id
        for m in translations.read_catalog(translations.catalog_path(translations.PACKAGE_CATALOG))
        if m.id
    }
    assert wanted == have, (
        f"{len(wanted - have)} new, {len(have - wanted)} gone: run "
        "python tools/translations.py update"
    )
