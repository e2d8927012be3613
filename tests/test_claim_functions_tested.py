"""Every lessons_lib function a chapter calls has a unit test module that names it.

A chapter's printed numbers and claims rest on the functions its code cells call. The
claims tests check the page's numbers, but a function can be wrong in a way the page's
claim does not notice (chapter 06's share of the uniform reader was one); so each such
function must be named by a unit test module of its own (``tests/test_*.py``, not the
tests that execute or read the book). The functions this check found untested when it
was written are tested at the end of this file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TESTS = ROOT / "tests"
# Tests of the book as a whole: they run or read the chapters, so naming a function there
# says nothing about whether that function is tested.
BOOK_LEVEL = {
    "test_book.py",
    "test_book_extension.py",
    "test_browser.py",
    "test_build_book.py",
    "test_claims.py",
    "test_jupyterlab.py",
    "test_notebooks.py",
}


def code_of(notebook: Path) -> str:
    """A notebook's code cells as one Python source; IPython magics and shell lines left out."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines += [line for line in source.splitlines() if line.lstrip()[:1] not in ("%", "!")]
    return "\n".join(lines)


def lessons_lib_calls(source: str) -> set[tuple[str, str]]:
    """``(module, name)`` of every lessons_lib function or class that ``source`` calls.

    Calls of a name imported ``from lessons_lib... import name`` and of ``alias.name``
    for a module imported from lessons_lib (``from lessons_lib import checks``,
    ``import lessons_lib.data as data``).
    """
    tree = ast.parse(source)
    names: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
    modules: dict[str, str] = {}  # local name -> module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lessons_lib"):
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("lessons_lib"):
                    if alias.asname:
                        modules[alias.asname] = alias.name
                    else:
                        modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
    called: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in names:
            called.add(names[function.id])
        elif isinstance(function, ast.Attribute):
            base, path = function.value, [function.attr]
            while isinstance(base, ast.Attribute):
                path.insert(0, base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                called.add((".".join([modules[base.id], *path[:-1]]), path[-1]))
            elif isinstance(base, ast.Name) and base.id in names and len(path) == 1:
                module, name = names[base.id]
                if _is_module(f"{module}.{name}"):  # from lessons_lib import checks; checks.f()
                    called.add((f"{module}.{name}", path[0]))
    return called


def _is_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def chapter_calls() -> dict[tuple[str, str], list[str]]:
    """``(module, name)`` -> the chapters that call it."""
    calls: dict[tuple[str, str], list[str]] = {}
    for notebook in sorted(BOOK.glob("*.ipynb")):
        for key in lessons_lib_calls(code_of(notebook)):
            calls.setdefault(key, []).append(notebook.stem)
    return calls


def names_in(path: Path) -> set[str]:
    """Every identifier a test module uses (names, attributes, imports) and its strings."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.name.split(".")[-1])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def unit_test_modules() -> dict[str, set[str]]:
    return {
        path.name: names_in(path)
        for path in sorted(TESTS.glob("test_*.py"))
        if path.name not in BOOK_LEVEL
    }


# --- the scanner itself ------------------------------------------------------------------------


def test_the_scanner_finds_calls_by_name_through_modules_and_through_aliases():
    source = "\n".join(
        [
            "from lessons_lib.softmax import softmax, naive_softmax as naive",
            "from lessons_lib import checks",
            "import lessons_lib.data as data",
            "from lessons_lib.data import DATE_FORMATS",
            "from lessons_lib.masking import causal_mask",
            "softmax(x)",
            "naive(x)",
            "checks.check_softmax(f)",
            "data.format_date(d, DATE_FORMATS[0])",
            "print(causal_mask)",  # named, not called
            "len(DATE_FORMATS)",
        ]
    )
    assert lessons_lib_calls(source) == {
        ("lessons_lib.softmax", "softmax"),
        ("lessons_lib.softmax", "naive_softmax"),
        ("lessons_lib.checks", "check_softmax"),
        ("lessons_lib.data", "format_date"),
    }


def test_the_scanner_reads_cells_and_skips_magics(tmp_path):
    notebook = tmp_path / "00_x.ipynb"
    cells = [
        {"cell_type": "markdown", "source": ["softmax(x)"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "!pip install x\n", "y = 1"]},
        {
            "cell_type": "code",
            "source": ["from lessons_lib.softmax import softmax\n", "softmax(y)"],
        },
    ]
    notebook.write_text(json.dumps({"cells": cells}))
    assert lessons_lib_calls(code_of(notebook)) == {("lessons_lib.softmax", "softmax")}


def test_a_name_counts_when_a_unit_test_module_uses_it(tmp_path):
    module = tmp_path / "test_x.py"
    module.write_text("from m import f\n\ndef test_k():\n    assert g.h('check_k') == f\n# e\n")
    assert {"f", "g", "h", "check_k"} <= names_in(module)
    assert not {"e", "test_k"} & names_in(module)  # a comment or a test's own name names nothing


# --- the book ---------------------------------------------------------------------------------


def test_the_chapters_call_what_their_claims_rest_on():
    calls = chapter_calls()
    assert len({notebook.stem for notebook in BOOK.glob("*.ipynb")}) >= 10
    assert ("lessons_lib.experiments.transformer", "field_attention_shares") in calls
    assert ("lessons_lib.training", "train_date_model") in calls
    assert len(calls) >= 80  # the scan sees the chapters' calls, not nothing


def test_every_function_a_chapter_calls_is_named_by_a_unit_test_module():
    modules = unit_test_modules()
    untested = [
        f"{module}.{name} (called in {', '.join(chapters)})"
        for (module, name), chapters in sorted(chapter_calls().items())
        if not any(name in names for names in modules.values())
    ]
    assert untested == [], "no unit test module names these; add a test with a known answer"


def test_every_called_name_is_a_real_lessons_lib_object():
    for module, name in chapter_calls():
        assert callable(getattr(importlib.import_module(module), name)), f"{module}.{name}"


# --- the functions the check found untested ----------------------------------------------------
# (field_attention_shares has its own module, tests/test_field_attention_shares.py.)


def test_plot_head_computation_draws_each_matrix_in_its_panel():
    from lessons_lib.plotting import plot_head_computation

    tokens = ["a", "b", "c"]
    inputs = torch.arange(12.0).reshape(3, 4)  # (seq, d_model)
    queries, keys = torch.arange(6.0).reshape(3, 2), -torch.arange(6.0).reshape(3, 2)
    values = torch.arange(9.0).reshape(3, 3) / 10  # d_v = 3, unlike d_k = 2
    weights = torch.softmax(queries @ keys.T / 2**0.5, dim=-1)  # (3, 3)
    outputs = weights @ values
    fig = plot_head_computation(inputs, queries, keys, values, weights, outputs, tokens)
    try:
        panels = fig.axes[:6]
        assert len(panels) == 6
        drawn = [np.asarray(ax.images[0].get_array()) for ax in panels]
        for picture, matrix in zip(drawn, (inputs, queries, keys, values, weights, outputs)):
            np.testing.assert_array_equal(picture, matrix.numpy())
        titles = [ax.get_title() for ax in panels]
        assert "3×4" in titles[0] and "3×2" in titles[1] and "3×2" in titles[2]
        assert "3×3" in titles[3] and "3×3" in titles[5]
        for ax in panels:
            assert [label.get_text() for label in ax.get_yticklabels()] == tokens
        assert [label.get_text() for label in panels[4].get_xticklabels()] == tokens
        assert [label.get_text() for label in panels[0].get_xticklabels()] == []
    finally:
        plt.close(fig)


def test_draw_patch_sequence_shows_patch_i_as_row_i():
    from lessons_lib.patching import patchify
    from lessons_lib.widgets.vit_patching import draw_patch_sequence

    images = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6) / 48
    patches = patchify(images, 2)[0]  # (6, 8): 2 x 3 patches of 2 channels x 2 x 2
    fig, ax = plt.subplots()
    try:
        image = draw_patch_sequence(ax, patches)
        np.testing.assert_array_equal(np.asarray(image.get_array()), patches.numpy())
        assert image.get_array().shape == (6, 8)
        assert "patch" in ax.get_ylabel()
        # row 0 is the top-left patch, row 5 the bottom-right one: first and last of the grid
        np.testing.assert_array_equal(
            np.asarray(image.get_array())[0], images[0, :, :2, :2].flatten().numpy()
        )
        np.testing.assert_array_equal(
            np.asarray(image.get_array())[-1], images[0, :, 2:, 4:].flatten().numpy()
        )
    finally:
        plt.close(fig)


@pytest.mark.parametrize(("height", "width", "p"), [(8, 12, 4), (6, 6, 1), (6, 6, 6), (4, 8, 2)])
def test_patch_grid_numbers_the_patches_row_major_and_draws_the_inner_lines(height, width, p):
    from lessons_lib.widgets.vit_patching import PatchGrid

    fig, ax = plt.subplots()
    try:
        grid = PatchGrid(ax, torch.rand(1, height, width), max_lines=16, max_labels=64)
        grid.show(p)
        grid_h, grid_w = height // p, width // p
        labels = [label for label in grid.labels if label.get_visible()]
        assert [label.get_text() for label in labels] == [str(i) for i in range(grid_h * grid_w)]
        middle = (p - 1) / 2
        for index, label in enumerate(labels):  # patch i sits in row i // gw, column i % gw
            row, col = index // grid_w, index % grid_w
            assert label.get_position() == pytest.approx((col * p + middle, row * p + middle))
        rows = [line.get_ydata()[0] for line in grid.row_lines if line.get_visible()]
        cols = [line.get_xdata()[0] for line in grid.col_lines if line.get_visible()]
        assert rows == pytest.approx([k * p - 0.5 for k in range(1, grid_h)])  # inner lines only
        assert cols == pytest.approx([k * p - 0.5 for k in range(1, grid_w)])
        grid.show(p, numbers=False)
        assert not any(label.get_visible() for label in grid.labels)
    finally:
        plt.close(fig)
