"""The live cells' HTML (lessons_lib/widgets/live_static.py): configuration checks, the embedded
JSON and player, and relabelling for another language.

The player itself runs in a browser in ``tests/test_live_browser.py``.
"""

from __future__ import annotations

import copy
import html
import importlib.resources
import json
import re

import pytest

from lessons_lib.data import DateTask
from lessons_lib.live import NOT_A_CHARACTER
from lessons_lib.widgets.live_static import (
    DATE_LABELS,
    DIGIT_LABELS,
    date_config,
    date_live_html,
    digit_config,
    digit_live_html,
    live_messages,
    player_script,
    relabelled_live_html,
)

TASK = DateTask()


def date_example() -> dict:
    text = "Nov 27, 2026"
    return {
        "characters": TASK.characters,
        "max_source_length": TASK.max_source_length,
        "target_length": TASK.target_length,
        "formats": ["27 November 2026", "Nov 27, 2026"],
        "suggestions": ["2026-11-27", "</script><b>x</b>"],
        "initial": {
            "text": text,
            "answer": "2026-11-27",
            "probability": [0.5 + 0.05 * t for t in range(10)],
            "cross": [[(t + s) / 100 for s in range(len(text))] for t in range(10)],
        },
    }


def digit_example() -> dict:
    pixels = [index / 63 for index in range(64)]
    return {
        "test_digits": [
            {"label": 3, "pixels": pixels},
            {"label": 7, "pixels": [[0.0] * 8 for _ in range(8)]},
        ],
        "initial": {"pixels": pixels, "probability": [0.1] * 10, "rollout": [0.05] * 16},
    }


def embedded_config(cell: str) -> dict:
    found = re.search(
        r'<script type="application/json" class="lessons-live-config">(.*?)</script>', cell
    )
    return json.loads(found.group(1))


def test_a_date_cell_carries_its_config_player_and_labels():
    cell = date_live_html(date_example())
    assert cell.startswith('<div class="lessons-live lessons-live-date" data-live="date"')
    assert 'data-state="idle"' in cell and cell.endswith("</div>")
    config = embedded_config(cell)
    assert config["characters"] == TASK.characters
    assert config["initial"]["cross"] == date_example()["initial"]["cross"]
    assert config["not_a_character"] == NOT_A_CHARACTER
    assert config["model"] == "date_model.onnx"
    assert config["labels"] == DATE_LABELS  # English: no language set
    assert f"<script>{player_script()}</script>" in cell
    # The label names the box; the box starts with the initial text.
    box_id = re.search(r'<input id="([^"]+)"', cell).group(1)
    assert f'<label class="lessons-live-label" for="{box_id}">Type a date</label>' in cell
    assert 'value="Nov 27, 2026"' in cell


def test_no_text_in_the_config_can_end_its_script_early():
    cell = date_live_html(date_example())
    # One </script> for the config and one for the player: the suggestion's is escaped.
    assert cell.count("</script>") == 2
    assert embedded_config(cell)["suggestions"][1] == "</script><b>x</b>"
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;</button>" in cell


def test_a_digit_cell_has_64_buttons_one_in_the_tab_order():
    cell = digit_live_html(digit_example())
    buttons = re.findall(r'<button type="button" class="lessons-live-cell"[^>]*>', cell)
    assert len(buttons) == 64
    assert [b for b in buttons if 'tabindex="0"' in b] == [buttons[0]]
    assert 'aria-label="row 8, column 8"' in buttons[63]
    config = embedded_config(cell)
    assert config["test_digits"][1]["pixels"] == [0.0] * 64  # 8 rows of 8, flattened
    assert config["test_digits"][0]["pixels"][9] == pytest.approx(9 / 63)


def test_the_same_config_gives_the_same_html_and_ids():
    assert date_live_html(date_example()) == date_live_html(date_example())
    other = date_example()
    other["initial"]["text"] = "27.11.2026"
    other["initial"]["cross"] = [[0.1] * 10 for _ in range(10)]
    first, second = (
        re.search(r'id="([^"]+)"', date_live_html(c)).group(1) for c in (date_example(), other)
    )
    assert first != second


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda c: c.pop("formats"), ValueError, r"missing: \['formats'\]"),
        (lambda c: c.update(characters=""), TypeError, r"characters'\] must be a non-empty string"),
        (lambda c: c.update(characters="aa"), ValueError, "must not repeat"),
        (
            lambda c: c.update(target_length=0),
            ValueError,
            r"target_length'\] must be a positive int",
        ),
        (lambda c: c["initial"].update(text="2026号"), ValueError, "1 to 30 characters"),
        (
            lambda c: c["initial"].update(probability=[0.5] * 9),
            ValueError,
            "must hold 10 numbers, got 9",
        ),
        (lambda c: c["initial"]["cross"].pop(), ValueError, "target_length=10 rows, got 9"),
        (
            lambda c: c["initial"]["cross"][0].append(0.0),
            ValueError,
            "must hold 12 numbers, got 13",
        ),
        (lambda c: c["initial"]["probability"].__setitem__(0, float("nan")), ValueError, "finite"),
        (lambda c: c.update(suggestions="2026-11-27"), TypeError, "list of strings, got str"),
        (lambda c: c.update(labels={"bogus": "x"}), ValueError, r"unknown: \['bogus'\]"),
    ],
)
def test_a_bad_date_config_is_refused_with_what_was_expected(change, error, message):
    config = date_example()
    change(config)
    with pytest.raises(error, match=message):
        date_live_html(config)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda c: c.update(test_digits=[]), ValueError, "non-empty list"),
        (lambda c: c["test_digits"][0].update(label=10), ValueError, "an int 0..9, got 10"),
        (lambda c: c["test_digits"][0].update(pixels=[0.0] * 63), ValueError, "64 numbers, got 63"),
        (
            lambda c: c["test_digits"][0]["pixels"].__setitem__(5, 1.5),
            ValueError,
            r"\[0, 1\], got 1.5",
        ),
        (lambda c: c["initial"].update(rollout=[0.1] * 4), ValueError, "16 numbers, got 4"),
        (lambda c: c["initial"].pop("probability"), ValueError, r"missing: \['probability'\]"),
        (lambda c: c["initial"].update(pixels="blank"), TypeError, "list of 64 numbers, got str"),
    ],
)
def test_a_bad_digit_config_is_refused_with_what_was_expected(change, error, message):
    config = digit_example()
    change(config)
    with pytest.raises(error, match=message):
        digit_live_html(config)


def test_a_config_must_be_a_dict():
    with pytest.raises(TypeError, match="config must be a dict, got list"):
        date_config([])
    with pytest.raises(TypeError, match="config must be a dict, got str"):
        digit_config("digits")


def test_relabelling_rewrites_each_cell_in_another_language_and_nothing_else():
    cells = date_live_html(date_example()) + digit_live_html(digit_example())
    page = f"<p>before</p>{cells}<p>after</p>"
    shouting = relabelled_live_html(page, str.upper)
    assert shouting.startswith("<p>before</p>") and shouting.endswith("<p>after</p>")
    for kind, labels in (("date", DATE_LABELS), ("digit", DIGIT_LABELS)):
        cell = re.search(
            rf'<div class="lessons-live lessons-live-{kind}".*?</script></div>', shouting, re.S
        )
        config = embedded_config(cell.group(0))
        assert config["labels"] == {key: text.upper() for key, text in labels.items()}
    assert html.escape(DIGIT_LABELS["load"].upper()) in shouting
    assert DIGIT_LABELS["load"] not in shouting
    # The same words back: the same page.
    assert relabelled_live_html(page, lambda text: text) == page
    # Everything but the labels is kept: numbers, texts, the model.
    before = embedded_config(date_live_html(date_example()))
    after = embedded_config(relabelled_live_html(date_live_html(date_example()), str.upper))
    assert {k: v for k, v in after.items() if k != "labels"} == {
        k: v for k, v in before.items() if k != "labels"
    }


def test_live_messages_are_every_label_once():
    messages = live_messages()
    assert len(messages) == len(set(messages))
    assert set(messages) == set(DATE_LABELS.values()) | set(DIGIT_LABELS.values())


def test_the_player_is_package_data_embedded_in_every_live_cell():
    shipped = importlib.resources.files("lessons_lib.widgets").joinpath("live_player.js")
    assert shipped.read_text(encoding="utf-8") == player_script()
    assert "</" not in player_script()  # nothing in it could end its <script> early
    assert "numThreads = 1" in player_script() and "wasmPaths" in player_script()


def test_the_config_given_is_not_changed():
    config = date_example()
    kept = copy.deepcopy(config)
    date_live_html(config)
    assert config == kept
