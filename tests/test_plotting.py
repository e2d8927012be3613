"""Figures for a phone: a row of panels gets a stacked copy (lessons_lib.plotting.narrow_layout).

The last test runs a real kernel with the build's environment, as the book's build does,
and checks that a figure's display carries the stacked copy next to its PNG.
"""

from __future__ import annotations

import base64
import struct

import matplotlib
import nbformat
import pytest
from nbclient import NotebookClient

matplotlib.use("agg")
import matplotlib.pyplot as plt

from lessons_lib.plotting import (
    NARROW_FIGURE_MIME,
    NARROW_WIDTH,
    narrow_figure_png,
    narrow_layout,
    show_narrow_figures_in_book,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def grid_of(fig) -> list[tuple[int, int, str]]:
    """(row, column, title) of each panel, in the figure's order."""
    found = []
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if spec is not None:
            ncols = spec.get_gridspec().ncols
            found.append((spec.num1 // ncols, spec.num1 % ncols, ax.get_title()))
    return found


def png_size(text: str) -> tuple[int, int]:
    header = base64.b64decode(text)[16:24]  # the IHDR chunk: width, height
    return struct.unpack(">II", header)


def row_of_panels(n: int, figsize: tuple[float, float], **kwargs):
    fig, axes = plt.subplots(1, n, figsize=figsize, layout="constrained", **kwargs)
    for index, ax in enumerate(axes):
        ax.imshow([[index, 1], [2, 3]])
        ax.set_title(f"panel {index}")
    return fig, axes


def test_three_panels_stack_into_one_column_in_reading_order():
    fig, _ = row_of_panels(3, (11, 2.8))
    narrow = narrow_layout(fig)
    assert narrow is not None
    assert grid_of(narrow) == [(0, 0, "panel 0"), (1, 0, "panel 1"), (2, 0, "panel 2")]
    width, height = narrow.get_size_inches()
    assert width == pytest.approx(11 / 3) and height == pytest.approx(3 * 2.8)


def test_the_original_figure_is_left_as_it_was():
    fig, _ = row_of_panels(3, (11, 2.8))
    before = grid_of(fig)
    numbers = plt.get_fignums()
    narrow_layout(fig)
    assert grid_of(fig) == before
    assert tuple(fig.get_size_inches()) == pytest.approx((11, 2.8))
    assert plt.get_fignums() == numbers  # the copy is not left open in pyplot


def test_many_small_panels_share_rows():
    fig, _ = row_of_panels(12, (10, 1.3))
    narrow = narrow_layout(fig)
    per_row = int(NARROW_WIDTH // (10 / 12))
    assert per_row == 5
    rows = [row for row, _, _ in grid_of(narrow)]
    columns = [column for _, column, _ in grid_of(narrow)]
    assert rows == [index // per_row for index in range(12)]
    assert columns == [index % per_row for index in range(12)]
    assert narrow.get_size_inches()[1] == pytest.approx(3 * 1.3)


def test_wide_panels_are_narrowed_to_the_phone_width():
    fig, _ = row_of_panels(2, (12, 3))
    width, height = narrow_layout(fig).get_size_inches()
    assert (width, height) == pytest.approx((NARROW_WIDTH, 6))


def test_a_shared_axis_shows_its_tick_labels_on_every_stacked_panel():
    fig, _ = row_of_panels(3, (11, 2.8), sharey=True)
    assert not fig.axes[1].yaxis.get_tick_params()["labelleft"]  # hidden in the row
    narrow = narrow_layout(fig)
    assert all(ax.yaxis.get_tick_params()["labelleft"] for ax in narrow.axes)


def test_a_colorbar_for_the_row_comes_along():
    fig, axes = row_of_panels(3, (11, 2.8))
    fig.colorbar(axes[2].images[0], ax=axes)
    narrow = narrow_layout(fig)
    assert len(narrow.axes) == 4 and len(grid_of(narrow)) == 3


@pytest.mark.parametrize(
    "layout",
    ["one panel", "two rows", "a spanning panel", "already narrow"],
)
def test_figures_that_are_not_one_wide_row_get_no_copy(layout):
    if layout == "one panel":
        fig, _ = plt.subplots(figsize=(11, 3))
    elif layout == "two rows":
        fig, _ = plt.subplots(2, 2, figsize=(11, 6))
    elif layout == "a spanning panel":
        fig = plt.figure(figsize=(11, 3))
        grid = fig.add_gridspec(1, 3)
        fig.add_subplot(grid[0, :2])
        fig.add_subplot(grid[0, 2])
    else:
        fig, _ = plt.subplots(1, 2, figsize=(4, 2))
    assert narrow_layout(fig) is None
    assert narrow_figure_png(fig) is None


def test_the_stacked_png_is_narrower_than_the_row():
    fig, _ = row_of_panels(3, (11, 2.8))
    fig.canvas.draw()
    narrow_width, narrow_height = png_size(narrow_figure_png(fig))
    assert narrow_width < fig.dpi * NARROW_WIDTH < fig.dpi * 11
    assert narrow_height > fig.dpi * 2.8 * 2


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="matplotlib Figure, got list"):
        narrow_layout([])
    fig, _ = row_of_panels(3, (11, 2.8))
    with pytest.raises(ValueError, match="positive number of inches, got 0"):
        narrow_layout(fig, width=0)


def test_outside_ipython_nothing_is_registered(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: None)  # other tests may start a shell
    assert show_narrow_figures_in_book() is False


def test_in_the_build_a_figure_display_carries_its_stacked_copy(monkeypatch):
    """A real kernel, as the build runs it: the inline backend starts after the import."""
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import lessons_lib.glue\nimport matplotlib.pyplot as plt"),
        nbformat.v4.new_code_cell("fig, axes = plt.subplots(1, 3, figsize=(11, 3))"),
        nbformat.v4.new_code_cell("fig, axes = plt.subplots(2, 2, figsize=(11, 6))"),
    ]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    (row,) = notebook.cells[1].outputs
    (grid,) = notebook.cells[2].outputs
    assert {"image/png", NARROW_FIGURE_MIME} <= set(row["data"])
    assert png_size(row["data"][NARROW_FIGURE_MIME])[0] < png_size(row["data"]["image/png"])[0]
    assert "image/png" in grid["data"] and NARROW_FIGURE_MIME not in grid["data"]
