"""Figures for a phone: a row of panels gets a stacked copy (lessons_lib.plotting.narrow_layout).

The build asks for the stacked copies explicitly: its kernels load the extension
lessons_lib.book_kernel, named in the IPython profile under tools/ipython_build_profile. The
last test runs a real kernel with that profile, as the book's build does, and checks that a
figure's display carries the stacked copy next to its PNG.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import nbformat
import pytest
from nbclient import NotebookClient

matplotlib.use("agg")
import matplotlib.pyplot as plt
from IPython.core.formatters import DisplayFormatter

from lessons_lib import book_kernel
from lessons_lib.plotting import (
    NARROW_FIGURE_MIME,
    NARROW_WIDTH,
    narrow_figure_png,
    narrow_layout,
    show_narrow_figures_in_book,
)

# What the Makefile's BUILD_ENV points IPYTHONDIR at.
BUILD_PROFILE = Path(__file__).resolve().parents[1] / "tools" / "ipython_build_profile"


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


def fake_shell() -> SimpleNamespace:
    """What the extension touches of an IPython shell: its display formatter."""
    return SimpleNamespace(display_formatter=DisplayFormatter())


def test_the_extension_registers_the_stacked_copy_and_unloading_removes_it():
    shell = fake_shell()
    assert NARROW_FIGURE_MIME not in shell.display_formatter.formatters
    book_kernel.load_ipython_extension(shell)
    formatter = shell.display_formatter.formatters[NARROW_FIGURE_MIME]
    row, _ = row_of_panels(3, (11, 2.8))
    grid, _ = plt.subplots(2, 2, figsize=(11, 6))
    assert png_size(formatter(row)) == png_size(narrow_figure_png(row))
    assert formatter(grid) is None and formatter("not a figure") is None
    book_kernel.unload_ipython_extension(shell)
    assert NARROW_FIGURE_MIME not in shell.display_formatter.formatters


@pytest.mark.parametrize("hook", ["load_ipython_extension", "unload_ipython_extension"])
@pytest.mark.parametrize(
    ("shell", "name"),
    [
        (None, "NoneType"),
        (object(), "object"),
        (SimpleNamespace(display_formatter=1), "SimpleNamespace"),
    ],
)
def test_the_extension_refuses_anything_but_a_shell(hook, shell, name):
    with pytest.raises(
        TypeError, match=rf"an IPython shell \(with a display_formatter\), got {name}$"
    ):
        getattr(book_kernel, hook)(shell)


def test_the_build_profile_loads_the_extension_and_fails_loudly():
    from traitlets.config.loader import PyFileConfigLoader

    folder = BUILD_PROFILE / "profile_default"
    config = PyFileConfigLoader("ipython_kernel_config.py", path=str(folder)).load_config()
    assert config.InteractiveShellApp.extensions == ["lessons_lib.book_kernel"]
    assert config.InteractiveShellApp.reraise_ipython_extension_failures is True
    assert config.HistoryManager.hist_file == ":memory:"  # writes nothing into the repository


def execute(*sources: str) -> list[dict]:
    """Run code cells in a fresh kernel (with this process's environment); their outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return [cell.outputs for cell in notebook.cells]


def test_in_the_build_a_figure_display_carries_its_stacked_copy(monkeypatch):
    """A real kernel, as the build runs it: the profile loads the extension, and the inline
    backend starts after it. The cells import nothing of lessons_lib."""
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(BUILD_PROFILE))
    _, (row,), (grid,) = execute(
        "import matplotlib.pyplot as plt",
        "fig, axes = plt.subplots(1, 3, figsize=(11, 3))",
        "fig, axes = plt.subplots(2, 2, figsize=(11, 6))",
    )
    assert {"image/png", NARROW_FIGURE_MIME} <= set(row["data"])
    assert png_size(row["data"][NARROW_FIGURE_MIME])[0] < png_size(row["data"]["image/png"])[0]
    assert "image/png" in grid["data"] and NARROW_FIGURE_MIME not in grid["data"]
