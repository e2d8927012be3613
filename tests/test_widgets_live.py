"""The live cells' kernel side (lessons_lib/widgets/live.py): DateBox and DigitGrid.

What each shows must be what the shared readers compute (lessons_lib/live.py), the same
modules the page runs after export; while the book is built, the display bundle carries the
static page form with the same reading as its first one.
"""

from __future__ import annotations

import html
import json
import re

import pytest
import torch

from lessons_lib.data import DateTask, load_digits_split
from lessons_lib.live import DateReader, DigitReader, read_date, read_digit
from lessons_lib.pretrained import load_date_model, load_digit_vit
from lessons_lib.widgets.live import OUTSIDE_FORMATS, DateBox, DigitGrid

pytestmark = pytest.mark.widgets


@pytest.fixture(scope="module")
def task() -> DateTask:
    return DateTask()


@pytest.fixture(scope="module")
def date_reader(task: DateTask) -> DateReader:
    return DateReader(load_date_model(), task)


@pytest.fixture(scope="module")
def digit_reader() -> DigitReader:
    return DigitReader(load_digit_vit())


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    _, _, test = load_digits_split()
    return test.images[:5], test.labels[:5]


def _config(markup: str) -> dict:
    found = re.search(
        r'<script type="application/json" class="lessons-live-config">(.*?)</script>',
        markup,
        re.DOTALL,
    )
    assert found, "no live-cell configuration in the static form"
    return json.loads(found.group(1))


def test_date_box_shows_the_readers_answer(date_reader, task):
    box = DateBox(date_reader, task)
    for text in ("Nov 27, 2026", *OUTSIDE_FORMATS):
        box.box.value = text
        reading = read_date(date_reader, task, text)
        assert f"<b>{html.escape(reading.answer)}</b>" in box.answer.value
        shown = [float(p) for p in re.findall(r"title='([0-9.]+)'", box.answer.value)]
        assert shown == pytest.approx(reading.probabilities, abs=5e-4)
        assert bytes(box.image.value).startswith(b"\x89PNG")  # the heatmap, drawn in the kernel


def test_date_box_refuses_unknown_characters_with_the_allowed_ones(date_reader, task):
    box = DateBox(date_reader, task, initial="27.11.2026")
    box.box.value = "27/11/2026 ü"
    message = html.unescape(box.answer.value)
    assert "ü" in message and task.characters in message
    assert bytes(box.image.value) == b""


def test_date_box_static_form_starts_from_the_same_reading(date_reader, task, monkeypatch):
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    box = DateBox(date_reader, task, initial="Friday, November 27th 2026")
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    config = _config(bundle["text/html"])
    reading = read_date(date_reader, task, "Friday, November 27th 2026")
    assert config["initial"]["answer"] == reading.answer
    torch.testing.assert_close(
        torch.tensor(config["initial"]["cross"]), reading.cross, atol=1e-5, rtol=0
    )
    assert config["characters"] == task.characters
    assert config["suggestions"] == list(OUTSIDE_FORMATS)


def test_date_box_refuses_wrong_arguments(date_reader, task, digit_reader):
    with pytest.raises(TypeError, match="DateReader"):
        DateBox(digit_reader, task)
    with pytest.raises(TypeError, match="DateTask"):
        DateBox(date_reader, "dates")
    with pytest.raises(TypeError, match="initial"):
        DateBox(date_reader, task, initial=20261127)


def test_digit_grid_answers_what_is_drawn(digit_reader, digits):
    images, labels = digits
    grid = DigitGrid(digit_reader, images, labels)
    assert torch.equal(grid.pixels, images[0, 0])
    grid.toggle(0)  # row 1, column 1: on if it was off, off if it was on
    assert grid.pixels[0, 0] == (0.0 if images[0, 0, 0, 0] >= 0.5 else 1.0)
    reading = read_digit(digit_reader, grid.pixels[None, None])
    best = int(reading.probabilities.argmax())
    assert f"reads {best} (" in grid.answer.value
    grid.load_next()
    assert torch.equal(grid.pixels, images[1, 0])
    grid.set_pixels(torch.ones(8, 8))  # every pixel fully on: black buttons
    assert {button.style.button_color for button in grid.buttons} == {"rgb(0,0,0)"}
    grid.set_pixels(torch.zeros(8, 8))  # every pixel off: white buttons
    assert {button.style.button_color for button in grid.buttons} == {"rgb(255,255,255)"}
    assert bytes(grid.image.value).startswith(b"\x89PNG")


def test_digit_grid_static_form_carries_the_test_digits(digit_reader, digits, monkeypatch):
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    images, labels = digits
    config = _config(DigitGrid(digit_reader, images, labels)._repr_mimebundle_()["text/html"])
    assert [digit["label"] for digit in config["test_digits"]] == labels.tolist()
    reading = read_digit(digit_reader, images[:1])
    assert config["initial"]["probability"] == pytest.approx(
        reading.probabilities.tolist(), abs=1e-5
    )
    assert config["initial"]["rollout"] == pytest.approx(
        reading.rollout.flatten().tolist(), abs=1e-5
    )


def test_digit_grid_refuses_wrong_arguments(digit_reader, date_reader, digits):
    images, labels = digits
    with pytest.raises(TypeError, match="DigitReader"):
        DigitGrid(date_reader, images, labels)
    with pytest.raises(ValueError, match=r"\(n, 1, 8, 8\)"):
        DigitGrid(digit_reader, images[:, 0], labels)
    with pytest.raises(ValueError, match="one label per test image"):
        DigitGrid(digit_reader, images, labels[:2])
