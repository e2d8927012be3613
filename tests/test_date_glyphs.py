"""The date glyphs that ship with the package (lessons_lib/fonts, tools/make_cjk_font.py).

Matplotlib's own font has no 年, 月 or 日, and Colab has no CJK font: without the shipped
subset, the Chinese date format's characters would be drawn as empty boxes, with a
"Glyph ... missing" warning for each.
"""

from __future__ import annotations

import contextlib
import datetime
import warnings

import matplotlib
import pytest
import torch
from fontTools.ttLib import TTFont

matplotlib.use("agg")
import matplotlib.pyplot as plt

from lessons_lib.data import DATE_FORMATS, DateTask, format_date
from lessons_lib.plotting import DATE_GLYPHS_FAMILY, DATE_GLYPHS_FONT, font_family, heatmap
from lessons_lib.transformer import Transformer
from lessons_lib.widgets.autoregressive_decoding import beam_explorer
from lessons_lib.widgets.transformer import date_attention_explorer

CHINESE = "2026年11月27日"


def test_the_shipped_font_holds_every_character_the_date_formats_add():
    wanted = {c for style in DATE_FORMATS for c in style if not c.isascii()}
    assert wanted == {"年", "月", "日"}
    font = TTFont(DATE_GLYPHS_FONT)
    held = {chr(code) for code in font.getBestCmap()}
    assert wanted <= held, (
        f"{sorted(wanted - held)} missing: run .venv/bin/python tools/make_cjk_font.py"
    )
    assert font["name"].getDebugName(1) == DATE_GLYPHS_FAMILY
    assert (DATE_GLYPHS_FONT.parent / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") == 1


def test_the_fallback_comes_after_matplotlib_s_own_font():
    family = font_family()
    assert family == [*plt.rcParams["font.family"], DATE_GLYPHS_FAMILY]
    # the shipped file, not a system font of another name, answers the family
    found = matplotlib.font_manager.findfont(DATE_GLYPHS_FAMILY, fallback_to_default=False)
    assert found == str(DATE_GLYPHS_FONT)


def test_the_family_list_follows_rcparams_and_belongs_to_the_caller():
    font_family().append("changed by a caller")
    assert font_family()[-1] == DATE_GLYPHS_FAMILY
    with plt.rc_context({"font.family": ["serif"]}):
        assert font_family() == ["serif", DATE_GLYPHS_FAMILY]
    assert font_family("monospace") == ["monospace", DATE_GLYPHS_FAMILY]
    with pytest.raises(TypeError, match=r"^base must be a font family name \(str\) or None"):
        font_family(["monospace"])


@contextlib.contextmanager
def no_missing_glyphs():
    """Fail on matplotlib's "Glyph ... missing" warning. Matplotlib caches a text's layout and
    warns once, when it first lays the text out, so the block must hold the figure's making."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")
        yield


def test_a_heatmap_of_a_chinese_date_draws_every_character():
    text = format_date(datetime.date(2003, 4, 5), CHINESE)[0]
    assert text == "2003年4月5日"
    with no_missing_glyphs():
        fig, ax = plt.subplots()
        heatmap(ax, torch.rand(10, len(text)), list("2003-04-05"), list(text), title=text)
        fig.canvas.draw()
    assert [label.get_text() for label in ax.get_xticklabels()] == list(text)
    plt.close(fig)


def test_without_the_fallback_matplotlib_misses_the_glyphs():
    """The check above can fail: matplotlib's default font alone warns on 年."""
    fig, ax = plt.subplots()
    with pytest.raises(UserWarning, match=r"Glyph .* missing"), no_missing_glyphs():
        ax.set_title(CHINESE, fontfamily=plt.rcParams["font.family"])
        fig.canvas.draw()
    plt.close(fig)


def draw_explorer(make_explorer):
    """An untrained date model's explorer of the chapter's date, written the Chinese way, made
    and drawn where a missing glyph fails; the figure, closed."""
    torch.manual_seed(0)
    task = DateTask()
    model = Transformer(task.vocab_size, d_model=8, num_heads=2, num_layers=1, d_ff=16).eval()
    batch = task.make_batch([datetime.date(2026, 11, 27)], [CHINESE])
    with no_missing_glyphs():
        explorer = make_explorer(model, task, batch)
        explorer.figure.canvas.draw()
    plt.close(explorer.figure)
    return explorer.figure


def test_the_date_explorer_draws_a_chinese_date():
    figure = draw_explorer(date_attention_explorer)
    labels = [label.get_text() for label in figure.axes[1].get_xticklabels()]
    assert labels[: len(CHINESE)] == list(CHINESE)


def test_the_beam_explorer_draws_a_chinese_date_in_its_monospaced_lines():
    figure = draw_explorer(lambda *args: beam_explorer(*args, beam_size=2))
    shown = " ".join(text.get_text() for ax in figure.axes for text in ax.texts)
    assert CHINESE in shown
