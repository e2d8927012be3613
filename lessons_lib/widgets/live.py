"""Live cells: the reader's own input, answered by a trained model (chapters 06 and 11).

An explorer replays frames that the build computed; a live cell runs a model on
whatever the reader types or draws.

- :class:`DateBox`: type a date, the date model writes it as ``YYYY-MM-DD``, with
  each written character's probability and the cross-attention behind it;
- :class:`DigitGrid`: draw on an 8x8 grid, the digit ViT gives its class
  probabilities and the attention rollout over the 4x4 patches.

In Jupyter and Colab these are ipywidgets backed by torch, through the same
:class:`~lessons_lib.live.DateReader` and :class:`~lessons_lib.live.DigitReader`
modules that the build exports to ONNX. While the book is built, the display
bundle also carries the static page's form (:mod:`lessons_lib.widgets.live_static`),
where onnxruntime-web runs those exported modules in the browser.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence

import ipywidgets
import torch

from lessons_lib.data import DATE_FORMATS, DateTask, format_date
from lessons_lib.language import translate
from lessons_lib.live import DateReader, DigitReader, read_date, read_digit
from lessons_lib.plotting import bars, heatmap
from lessons_lib.widgets.explorer import BookDisplay
from lessons_lib.widgets.live_static import (
    DATE_LABELS,
    DIGIT_LABELS,
    date_live_html,
    digit_live_html,
)
from lessons_lib.widgets.rendering import figure_png, new_figure
from lessons_lib.widgets.static import static_forms_enabled

# Inputs outside the trained formats (DATE_FORMATS): the model answers them too, often wrongly.
OUTSIDE_FORMATS = ("2026-11-27", "Nov 27 2026", "27 Nov 2026", "11/27/2026")
IMAGE_SIZE = 8  # the digits are 8x8 pixels
_EXAMPLE_DAY = datetime.date(2026, 11, 27)  # the chapter's example date


def _require_reader(reader: object, kind: type) -> None:
    if not isinstance(reader, kind):
        raise TypeError(
            f"reader must be a {kind.__name__} (lessons_lib.live), got {type(reader).__name__}"
        )


class DateBox(BookDisplay, ipywidgets.VBox):
    """A text box whose date the model rewrites as ``YYYY-MM-DD`` as the reader types.

    Below the box: the answer, each character with the probability the model gave
    it, and the cross-attention heatmap (output characters x the typed characters,
    mean of the heads). Characters outside the task's vocabulary are refused with
    the list of allowed ones.
    """

    def summary(self) -> str:
        """The box's text."""
        return f"type a date: {self.box.value!r}"

    def __init__(self, reader: DateReader, task: DateTask, initial: str | None = None) -> None:
        _require_reader(reader, DateReader)
        if not isinstance(task, DateTask):
            raise TypeError(f"task must be a DateTask, got {type(task).__name__}")
        self.reader, self.task = reader, task
        if initial is None:
            initial = format_date(_EXAMPLE_DAY, DATE_FORMATS[3])[0]
        if not isinstance(initial, str):
            raise TypeError(f"initial must be a string, got {type(initial).__name__}")
        self.box = ipywidgets.Text(
            value=initial,
            placeholder=translate(DATE_LABELS["box"]),
            continuous_update=True,
            layout=ipywidgets.Layout(width="28em", max_width="100%"),
        )
        self.answer = ipywidgets.HTML()
        self.image = ipywidgets.Image(
            format="png", layout=ipywidgets.Layout(max_width="100%", align_self="flex-start")
        )
        suggestions = [ipywidgets.Button(description=text) for text in OUTSIDE_FORMATS]
        for button in suggestions:
            button.on_click(lambda b: setattr(self.box, "value", b.description))
        trained = ", ".join(f"<code>{html.escape(text)}</code>" for text in self.formats())
        super().__init__(
            [
                ipywidgets.HTML(f"{translate(DATE_LABELS['formats'])} {trained}"),
                self.box,
                ipywidgets.HBox(
                    [ipywidgets.Label(translate(DATE_LABELS["suggestions"])), *suggestions]
                ),
                self.answer,
                self.image,
            ]
        )
        self.box.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def formats(self) -> list[str]:
        """The example date in each trained format."""
        return [format_date(_EXAMPLE_DAY, style)[0] for style in DATE_FORMATS]

    def refresh(self) -> None:
        """Answer the box's text (or say which characters cannot be read)."""
        text = self.box.value
        try:
            reading = read_date(self.reader, self.task, text)
        except ValueError as error:
            self.answer.value = f"<p role='alert'>{html.escape(str(error))}</p>"
            self.image.value = b""
            return
        cells = " ".join(
            f"<code title='{p:.3f}'>{html.escape(c)}</code>&nbsp;<small>{p:.0%}</small>"
            for c, p in zip(reading.answer, reading.probabilities)
        )
        self.answer.value = f"<p><b>{html.escape(reading.answer)}</b></p><p>{cells}</p>"
        if static_forms_enabled():  # the page draws its own heatmap
            return
        figure = new_figure(max(4.0, 0.3 * len(text) + 1.5), 3.6)
        ax = figure.subplots()
        heatmap(ax, reading.cross, list(reading.answer), list(text), vmin=0, vmax=1)
        ax.tick_params(axis="x", labelrotation=0)
        ax.set_xlabel("typed characters")  # figure text stays English (no CJK font assumed)
        ax.set_ylabel("written characters")
        self.image.value = figure_png(figure)

    def static_html(self) -> str:
        """The page's form: onnxruntime-web runs the exported reader on the reader's text."""
        initial = read_date(self.reader, self.task, self.box.value)
        config = {
            "characters": self.task.characters,
            "max_source_length": self.task.max_source_length,
            "target_length": self.task.target_length,
            "formats": self.formats(),
            "suggestions": list(OUTSIDE_FORMATS),
            "initial": {
                "text": initial.text,
                "answer": initial.answer,
                "probability": [round(p, 6) for p in initial.probabilities],
                "cross": [[round(w, 6) for w in row] for row in initial.cross.tolist()],
            },
        }
        return date_live_html(config)


class DigitGrid(BookDisplay, ipywidgets.VBox):
    """An 8x8 grid of buttons to draw a digit; the ViT answers on each click.

    A click turns a pixel fully on (or off again); "load a test digit" fills the grid
    with the next of ``test_images`` (grey levels kept). Beside it: the ten class
    probabilities and the attention rollout over the 4x4 patches.
    """

    def summary(self) -> str:
        """What the cell is."""
        return "draw a digit"

    def __init__(
        self,
        reader: DigitReader,
        test_images: torch.Tensor,
        test_labels: Sequence[int] | torch.Tensor,
    ) -> None:
        _require_reader(reader, DigitReader)
        if not isinstance(test_images, torch.Tensor) or test_images.shape[1:] != (1, 8, 8):
            raise ValueError(
                "test_images must be a tensor (n, 1, 8, 8), got "
                f"{getattr(test_images, 'shape', type(test_images).__name__)}"
            )
        labels = [int(label) for label in test_labels]
        if len(labels) != len(test_images) or not labels:
            raise ValueError(
                f"give one label per test image and at least one image: got {len(labels)} "
                f"labels for {len(test_images)} images"
            )
        self.reader, self.test_images, self.test_labels = reader, test_images, labels
        self.pixels = test_images[0, 0].clone()  # (8, 8) in [0, 1]
        self.next_test = 1
        self.buttons = [
            ipywidgets.Button(
                description="",
                tooltip=f"row {row + 1}, column {column + 1}",
                layout=ipywidgets.Layout(width="28px", height="28px", padding="0"),
            )
            for row in range(IMAGE_SIZE)
            for column in range(IMAGE_SIZE)
        ]
        for index, button in enumerate(self.buttons):
            button.on_click(lambda _b, index=index: self.toggle(index))
        grid = ipywidgets.GridBox(
            self.buttons,
            layout=ipywidgets.Layout(
                grid_template_columns=f"repeat({IMAGE_SIZE}, 30px)", grid_gap="1px"
            ),
        )
        load = ipywidgets.Button(description=translate(DIGIT_LABELS["load"]))
        load.on_click(lambda _b: self.load_next())
        clear = ipywidgets.Button(description=translate(DIGIT_LABELS["clear"]))
        clear.on_click(lambda _b: self.set_pixels(torch.zeros(IMAGE_SIZE, IMAGE_SIZE)))
        self.answer = ipywidgets.HTML()
        self.image = ipywidgets.Image(
            format="png", layout=ipywidgets.Layout(max_width="100%", align_self="flex-start")
        )
        super().__init__([ipywidgets.HBox([load, clear]), grid, self.answer, self.image])
        self.set_pixels(self.pixels)

    def toggle(self, index: int) -> None:
        """Turn pixel ``index`` (row-major) fully on, or off if it was on."""
        pixels = self.pixels.clone()
        row, column = divmod(index, IMAGE_SIZE)
        pixels[row, column] = 0.0 if pixels[row, column] >= 0.5 else 1.0
        self.set_pixels(pixels)

    def load_next(self) -> None:
        """Fill the grid with the next test digit."""
        self.set_pixels(self.test_images[self.next_test % len(self.test_images), 0])
        self.next_test += 1

    def set_pixels(self, pixels: torch.Tensor) -> None:
        """Show ``pixels`` (8, 8) on the grid and answer them."""
        self.pixels = pixels.clone()
        for button, value in zip(self.buttons, self.pixels.flatten().tolist()):
            grey = round(255 * (1 - value))
            button.style.button_color = f"rgb({grey},{grey},{grey})"
        reading = read_digit(self.reader, self.pixels[None, None])
        best = int(reading.probabilities.argmax())
        reads = translate(DIGIT_LABELS["reads"])
        percent = f"{float(reading.probabilities[best]):.0%}"
        self.answer.value = f"<p>{html.escape(reads.format(digit=best, percent=percent))}</p>"
        if static_forms_enabled():
            return
        figure = new_figure(7.5, 2.6)
        left, right = figure.subplots(1, 2, width_ratios=[2, 1])
        bars(left, reading.probabilities, [str(k) for k in range(10)], highlight=best)
        left.set_title("class probabilities", fontsize=10)
        heatmap(right, reading.rollout, vmin=0)
        right.set_title("rollout over the patches", fontsize=10)
        self.image.value = figure_png(figure)

    def static_html(self) -> str:
        """The page's form: the grid in HTML, onnxruntime-web runs the exported ViT."""
        reading = read_digit(self.reader, self.pixels[None, None])
        config = {
            "test_digits": [
                {
                    "label": label,
                    "pixels": [round(v, 6) for v in image[0].flatten().tolist()],
                }
                for image, label in zip(self.test_images, self.test_labels)
            ],
            "initial": {
                "pixels": [round(v, 6) for v in self.pixels.flatten().tolist()],
                "probability": [round(p, 6) for p in reading.probabilities.tolist()],
                "rollout": [round(w, 6) for w in reading.rollout.flatten().tolist()],
            },
        }
        return digit_live_html(config)
