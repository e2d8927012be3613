"""The Chinese edition's catalogs (tools/translations.py): how pages are cut into messages, what a
translation must keep, and that the catalogs are current, complete and sound."""

# ruff: noqa: E501  (the test messages below are single Markdown lines, as in the catalogs)
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import translations  # noqa: E402

PAGES = translations.pages()


def markdown_sources(page: Path) -> list[str]:
    if page.suffix == ".md":
        return [page.read_text(encoding="utf-8")]
    cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_cutting_a_page_into_messages_loses_nothing(page):
    for source in markdown_sources(page):
        assert translations.translate_markdown(source, lambda text: text) == source
        joined = "".join(piece.text for piece in translations.pieces(source))
        assert joined == source


@given(st.lists(st.sampled_from(["Some words here.", "", "```python\nx = 1\n\ny = 2\n```",
                                 "$$\na = b\n$$", "(label)=", "# A heading", "- an item\n- another",
                                 ":::{note}\nInside a note.\n:::", "| a | b |\n|---|---|"]),
                max_size=8))  # fmt: skip
def test_any_arrangement_of_blocks_comes_back_whole(blocks):
    text = "\n\n".join(blocks) + "\n"
    assert "".join(piece.text for piece in translations.pieces(text)) == text
    marked = translations.translate_markdown(text, lambda message: f"<{message}>")
    assert marked.replace("<", "").replace(">", "") == text  # only whole messages were swapped


def test_code_math_labels_and_directive_lines_are_never_messages():
    text = (
        "(intro)=\n# Title\n\nA paragraph with $x$.\n\n```python\nprint('no')\n```\n\n"
        "$$\ny = x\n$$\n\n:::{note}\nInside.\n:::\n"
    )
    messages = [piece.text for piece in translations.pieces(text) if piece.message]
    assert messages == ["# Title", "A paragraph with $x$.", "Inside."]


def test_a_code_cell_gives_its_caption_and_alt_text_and_nothing_else():
    cell = {
        "cell_type": "code",
        "source": "plt.plot([1, 2])  # a comment in English",
        "metadata": {
            "mystnb": {"figure": {"caption": "A line."}, "image": {"alt": "A rising line."}}
        },
    }
    assert translations.cell_messages(cell) == ["A line.", "A rising line."]


SOUND = "## 3. Temperature: {glue:text}`gap:.1%` from {cite:t}`vaswani2017attention`, see {doc}`02_softmax`; $x_i$ and `softmax`."


def test_a_sound_translation_has_no_problems():
    chinese = "## 3. 温度：{glue:text}`gap:.1%`，出自 {cite:t}`vaswani2017attention`，见 {doc}`02_softmax`；$x_i$ 与 `softmax`。"
    assert translations.problems(SOUND, chinese) == []


@pytest.mark.parametrize(
    ("chinese", "complaint"),
    [
        ("## 3. 温度：出自 {cite:t}`vaswani2017attention`，见 {doc}`02_softmax`；$x_i$ 与 `softmax`。", "glued values"),
        ("## 3. 温度：{glue:text}`gap:.2%`，出自 {cite:t}`vaswani2017attention`，见 {doc}`02_softmax`；$x_i$ 与 `softmax`。", "glued values"),
        ("## 3. 温度：{glue:text}`gap:.1%`，出自 {cite:t}`vaswani2017attention`，见 {doc}`03_masking`；$x_i$ 与 `softmax`。", "cross-reference"),
        ("## 3. 温度：{glue:text}`gap:.1%`，见 {doc}`02_softmax`；$x_i$ 与 `softmax`。", "citations"),
        ("## 3. 温度：{glue:text}`gap:.1%`，出自 {cite:t}`vaswani2017attention`，见 {doc}`02_softmax`；$x_j$ 与 `softmax`。", "inline math"),
        ("## 3. 温度：{glue:text}`gap:.1%`，出自 {cite:t}`vaswani2017attention`，见 {doc}`02_softmax`；$x_i$ 与 softmax。", "code spans"),
        ("### 3. 温度：{glue:text}`gap:.1%`，出自 {cite:t}`vaswani2017attention`，见 {doc}`02_softmax`；$x_i$ 与 `softmax`。", "heading"),
        ("## 3. Temperature, from the paper that we follow here: {glue:text}`gap:.1%` {cite:t}`vaswani2017attention` {doc}`02_softmax` $x_i$ `softmax`", "English words"),
    ],
)  # fmt: skip
def test_a_translation_that_loses_what_the_build_reads_is_named(chinese, complaint):
    found = translations.problems(SOUND, chinese)
    assert any(complaint in problem for problem in found), found


def test_tables_lists_and_glossary_entries_keep_their_shape():
    table = "| a | b |\n|---|---|\n| one | two |"
    assert translations.problems(table, "| 甲 | 乙 |\n|---|---|\n| 一 | 二 |") == []
    assert translations.problems(table, "| 甲 | 乙 |\n|---|---|")
    assert translations.problems(table, "| 甲 | 乙 | 丙 |\n|---|---|\n| 一 | 二 |")
    assert translations.problems("- one\n- two", "一和二")
    entry = "term (术语)\n  What it means. Taught in {doc}`01_qkv`."
    assert translations.problems(entry, "术语 (term)\n  它的意思。见 {doc}`01_qkv`。") == []
    assert translations.problems(entry, "术语 (term) 它的意思。见 {doc}`01_qkv`。")


def test_link_text_may_be_translated_but_not_its_target():
    english = (
        "See {ref}`Training in one page <training-in-one-page>` and [the paper](https://a.b/c)."
    )
    assert (
        translations.problems(
            english, "见 {ref}`一页讲训练 <training-in-one-page>` 与[论文](https://a.b/c)。"
        )
        == []
    )
    assert translations.problems(
        english, "见 {ref}`一页讲训练 <training>` 与[论文](https://a.b/c)。"
    )
    assert translations.problems(
        english, "见 {ref}`一页讲训练 <training-in-one-page>` 与[论文](https://a.b/d)。"
    )


# --- the catalogs: current, complete, sound, and one term one translation ---------------------

CATALOGS = translations.LOCALES / translations.LANGUAGE / "LC_MESSAGES"


def catalog_texts(name: str) -> tuple[str, str]:
    """(English, Chinese) of one catalog: its messages and their translations, joined."""
    catalog = translations.read_catalog(translations.catalog_path(name))
    english = "\n".join(m.id for m in catalog if m.id)
    chinese = "\n".join(m.string for m in catalog if m.id and m.string)
    return english, chinese


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_page_has_a_catalog_with_exactly_its_messages(page):
    path = translations.catalog_path(translations.catalog_name(page))
    assert path.is_file(), f"no catalog for {page.name}: run `python tools/translations.py update`"
    wanted = {message for message, _ in translations.page_messages(page)}
    have = {m.id for m in translations.read_catalog(path) if m.id}
    stale, new = sorted(have - wanted), sorted(wanted - have)
    assert not new and not stale, (
        f"{path.name} is out of step with {page.name} ({len(new)} new, {len(stale)} gone): run "
        f"`python tools/translations.py update`, then translate what it marks. New: {new[:2]}"
    )


@pytest.mark.parametrize(
    "name", [*sorted(p.stem for p in CATALOGS.glob("*.po")), translations.PACKAGE_CATALOG], ids=str
)
def test_every_message_is_translated_not_fuzzy_and_sound(name):
    catalog = translations.read_catalog(translations.catalog_path(name))
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            wrong.append(f"fuzzy (the English changed): {message.id[:80]!r}")
        elif not message.string:
            wrong.append(f"not translated: {message.id[:80]!r}")
        else:
            wrong += [
                f"{p}: {message.id[:60]!r}"
                for p in translations.problems(message.id, message.string)
            ]
    assert not wrong, (
        f"{name}.po: {len(wrong)} message(s) to fix (python tools/translations.py check "
        f"{translations.catalog_path(name).relative_to(ROOT)}):\n" + "\n".join(wrong[:10])
    )


def glossary_entries() -> list[tuple[str, str, list[str]]]:
    """(English term, Chinese term, the chapters it links) of every translated glossary entry."""
    entries = []
    for message in translations.read_catalog(translations.catalog_path("glossary")):
        if not message.id or "\n" not in message.id or not message.string:
            continue
        english = message.id.split("\n")[0].rsplit(" (", 1)[0]
        chinese = message.string.split("\n")[0].rsplit(" (", 1)[0]
        chapters = re.findall(r"\{doc\}`([^`<]+)`", message.id)
        entries.append((english, chinese, chapters))
    return entries


def test_each_glossary_term_reads_the_same_in_the_chapter_that_teaches_it():
    # The Chinese term line is "中文 (english)"; its first Chinese form is the book's translation.
    # Wherever the teaching chapter uses the English term, its Chinese text uses that form.
    mismatched = []
    for english, chinese, chapters in glossary_entries():
        first_english = re.split(r"[,;]", english)[0].strip().lower()
        first_chinese = re.split(r"[，、;；,]", chinese)[0].strip()
        if not chapters or not re.search(r"[\u4e00-\u9fff]", first_chinese):
            continue
        en_text, zh_text = catalog_texts(chapters[0])
        if first_english in en_text.lower() and first_chinese not in zh_text:
            mismatched.append(f"{chapters[0]}: '{first_english}' is not '{first_chinese}' there")
    assert not mismatched, "\n".join(mismatched)


def test_a_printed_verdict_is_shown_as_the_chinese_run_would_print_it():
    import zh_book

    feedback = zh_book.Translator(translations.PACKAGE_CATALOG)
    strings = feedback.strings
    name, hint = (
        "softmax over the wrong axis",
        "each row must sum to 1: take the max and the sum over dim=-1",
    )
    english = f"❌ Not yet: {name}: {hint}"
    assert (
        zh_book.translated_feedback(english, feedback)
        == f"{strings['❌ Not yet:']} {strings[name]}: {strings[hint]}"
    )
    assert (
        zh_book.translated_feedback(f"{name}: {hint}", feedback) == f"{name}: {hint}"
    )  # no verdict
    # an explorer's label ("head") is never put into a checker's own words
    assert zh_book.translated_feedback("❌ Not yet: the head of 4 heads", feedback).endswith(
        "the head of 4 heads"
    )
