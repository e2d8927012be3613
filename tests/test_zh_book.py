"""The Chinese edition in the built site (_build/html/zh, made by tools/zh_book.py): every page,
its language, the switch between editions, Chinese search, and notebooks whose code is the
English code. The browser checks (tests/test_browser.py) visit its pages as well."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
ZH = HTML / "zh"
SOURCES = ROOT / "_build" / "zh"
sys.path.insert(0, str(ROOT / "tools"))

import translations  # noqa: E402
import zh_book  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.usefixtures("built_site")]  # tests/conftest.py

PAGES = [page.relative_to(ROOT).with_suffix(".html").as_posix() for page in translations.pages()]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
PASTED = r'<span class="pasted-text">([^<]*)</span>'  # a glued value in the prose
SWITCH = re.compile(r'<a class="btn btn-sm lh-language-switch" href="([^"]+)" hreflang="([^"]+)"')


def html_lang(text: str) -> str:
    match = re.search(r'<html[^>]*\blang="([^"]+)"', text)
    return match.group(1) if match else ""


@pytest.mark.parametrize("page", PAGES)
def test_every_page_exists_in_chinese_and_says_so(page):
    path = ZH / page
    assert path.is_file(), f"zh/{page} was not built (tools/zh_book.py)"
    text = path.read_text(encoding="utf-8")
    assert html_lang(text) == "zh-CN"
    assert html_lang((HTML / page).read_text(encoding="utf-8")) == "en"
    title = re.search(r"<h1>(.*?)</h1>", text, re.DOTALL)
    assert (title and re.search(r"[\u4e00-\u9fff]", title.group(1))) or "Softmax" in title.group(1)


@pytest.mark.parametrize("page", PAGES)
def test_each_edition_links_to_the_same_page_in_the_other(page):
    for here, there_lang in ((HTML / page, "zh-CN"), (ZH / page, "en")):
        links = SWITCH.findall(here.read_text(encoding="utf-8"))
        assert len(links) == 1, f"{here.relative_to(HTML)}: {len(links)} language links"
        href, lang = links[0]
        target = (here.parent / href).resolve()
        assert lang == there_lang
        assert target == ((ZH / page) if there_lang == "zh-CN" else (HTML / page)).resolve()
        back = SWITCH.findall(target.read_text(encoding="utf-8"))[0][0]
        assert (target.parent / back).resolve() == here.resolve()


def search_index(site: Path) -> dict:
    text = (site / "searchindex.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("(") + 1 : text.rindex(")")])


def test_chinese_search_knows_chinese_words():
    # Sphinx cuts Chinese text into words with jieba: the index holds words, not whole sentences.
    terms = search_index(ZH)["terms"]
    for word in ("注意力", "掩码", "位置", "编码", "解码器", "词元"):
        assert word in terms, f"the Chinese search index has no entry for {word}"
    assert not [term for term in terms if len(term) > 12 and re.search(r"[\u4e00-\u9fff]", term)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_chinese_notebook_has_the_english_code_byte_for_byte_but_its_language(chapter):
    english = json.loads(chapter.read_text(encoding="utf-8"))["cells"]
    chinese = json.loads((SOURCES / "book" / chapter.name).read_text(encoding="utf-8"))["cells"]
    assert [c["cell_type"] for c in chinese] == [c["cell_type"] for c in english]
    setup = next(i for i, cell in enumerate(english) if cell["cell_type"] == "code")
    for index, (en, zh) in enumerate(zip(english, chinese, strict=True)):
        if en["cell_type"] == "code":
            wanted = "".join(en["source"])
            if index == setup:  # the one line the Chinese edition adds: its feedback language
                wanted = wanted.rstrip("\n") + "\n" + zh_book.SET_LANGUAGE
            assert "".join(zh["source"]) == wanted, f"{chapter.name}: code differs"
            assert zh["execution_count"], f"{chapter.name}: the English run's outputs are missing"
        else:
            assert "".join(zh["source"]) != "".join(en["source"]) or not re.search(
                r"[A-Za-z]{3,}", "".join(en["source"])
            ), f"{chapter.name}: a Markdown cell was left in English"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_chinese_page_quotes_the_same_glued_numbers(chapter):
    # The Chinese notebook carries the English run's outputs, so each glued number reads the same.
    def glued(text: str) -> list[str]:
        return re.findall(PASTED, text)

    name = f"book/{chapter.stem}.html"
    english, chinese = (
        glued((HTML / name).read_text("utf-8")),
        glued((ZH / name).read_text("utf-8")),
    )
    assert english, f"{name}: no glued numbers found"
    phrases = zh_book.glued_phrases()
    # Sphinx's smart quotes turn a glued "attention's" into "attention’s" on the page.
    english = [html.unescape(text).replace("’", "'") for text in english]
    english = [zh_book.translated_glue(text, phrases) for text in english]
    assert sorted(english) == sorted(html.unescape(text) for text in chinese)


# English words a glued value may keep on a Chinese page: a model's name, a setting's code.
GLUED_ENGLISH_KEPT = {"GRU", "batch"}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_english_words_are_glued_into_a_chinese_page(chapter):
    # Words glued into the prose (which timing was faster, which codes an interval tells apart)
    # come from the English run; locales/zh_CN/glued_phrases.yaml puts each into Chinese.
    text = (ZH / "book" / f"{chapter.stem}.html").read_text("utf-8")
    glued = [html.unescape(value) for value in re.findall(PASTED, text)]
    left = {word for value in glued for word in re.findall(r"[A-Za-z]{3,}", value)}
    assert left <= GLUED_ENGLISH_KEPT, f"{chapter.stem}: glued English words {left}"


def test_glued_phrases_keep_numbers_and_whole_words():
    phrases = zh_book.glued_phrases()
    assert zh_book.translated_glue("the GRU was 4.6 times faster than attention", phrases) == (
        "GRU 比注意力快 4.6 倍"
    )
    told = "1-D learned (above none), relative (learned) (below none)"
    assert zh_book.translated_glue(told, phrases) == (
        "一维可学习（高于不加编码）、相对位置（可学习）（低于不加编码）"
    )
    # "none" alone is a word, but not inside "nonempty"
    assert zh_book.translated_glue("none", phrases) == "无"
    assert zh_book.translated_glue("nonempty", phrases) == "nonempty"


def test_feedback_is_in_chinese_on_the_chinese_pages():
    # A checker's printed verdict, and a static explorer's control label and caption, in the
    # words of the package's catalog (lessons_lib/locale), as set_language("zh_CN") gives them.
    feedback = zh_book.Translator(translations.PACKAGE_CATALOG).strings
    softmax = (ZH / "book" / "02_softmax.html").read_text(encoding="utf-8")
    assert feedback["❌ Not yet:"] in softmax and "Not yet:" not in softmax
    add_norm = (ZH / "book" / "05_add_norm.html").read_text(encoding="utf-8")
    assert f"> {feedback['residual connections']}</label>" in add_norm
    assert "> residual connections</label>" not in add_norm


def test_the_chinese_status_page_lists_every_chapter_s_run():
    # The Chinese build runs nothing, so its status page reads the English run's records.
    text = (ZH / "book" / "status.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", text, re.DOTALL)
    seconds = [re.findall(r"<td[^>]*>\s*(?:<p>)?([\d.]+)\s*(?:</p>)?\s*</td>", row) for row in rows]
    assert len([row for row in rows if "✅" in row]) == len(CHAPTERS)
    assert all(float(found[-1]) > 0 for found in seconds if found)
