"""Every chapter's explorers, live, in a real Jupyter kernel (nbclient), as a reader would use them.

The rendered book shows each explorer's static form; this test covers the other
form, the live ipywidgets one that Jupyter and Colab show. For each chapter it
runs, in a real kernel and without ``LESSONS_STATIC_WIDGETS``, only what the
explorers need: the setup cell, each cell that creates an explorer (it calls a
``*_explorer(...)`` function), and, going backwards, every earlier cell that
defines a name those cells use (transitively). Re-running whole notebooks would
double the cost of ``make test``, whose strict build already runs every cell.

Then it moves every control of every explorer from the kernel side, one value
per cell, and checks the PNG that nbclient received over the widget comm, just
as a front end would: the picture must change. One kernel serves every chapter
(``%reset`` and closing all widgets between chapters), so torch is imported once.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
EXPLORER_CALL = re.compile(r"^(?!\s*def\s).*\b\w+_explorer\(", re.MULTILINE)
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def top_level_names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell binds at top level, names it reads anywhere)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    defined: set[str] = set()
    used = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
            return  # names bound inside belong to that scope
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp)):
            return
        if isinstance(node, ast.GeneratorExp):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            defined.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            used.add(node.target.id)  # x += 1 reads x first
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return defined, used


def explorer_slice(notebook: dict[str, Any]) -> tuple[list[str], int]:
    """The sources to run, in notebook order, and how many of them create explorers."""
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    wanted = {0} | {i for i, source in enumerate(sources) if EXPLORER_CALL.search(source)}
    n_explorer_cells = len(wanted - {0})
    needed: set[str] = set()
    for i in range(len(sources) - 1, -1, -1):
        defined, used = top_level_names(sources[i])
        if i in wanted or defined & needed:
            wanted.add(i)
            needed = (needed - defined) | used
    return [sources[i] for i in sorted(wanted)], n_explorer_cells


# --- kernel-side helpers, sent once per kernel --------------------------------------------

HELPERS = """
import json as _json
import ipywidgets as _ipywidgets
from lessons_lib.widgets import Explorer as _Explorer, control_options as _options

def _lessons_explorers():
    # Every explorer registers itself; keep those still open (with a comm).
    return [e for e in list(_Explorer.instances) if getattr(e, "comm", None) is not None]

def _lessons_describe():
    global _lessons_live
    _lessons_live = _lessons_explorers()
    print(_json.dumps([
        {"image": e.image.model_id, "caption": e.caption[:60], "bytes": len(bytes(e.image.value)),
         "controls": {name: len(_options(c)) for name, c in e.controls.items()}}
        for e in _lessons_live
    ]))

def _lessons_move(explorer, name, option):
    control = _lessons_live[explorer].controls[name]
    control.value = _options(control)[option][1]
    print(len(bytes(_lessons_live[explorer].image.value)))
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[NotebookClient]:
    notebook = nbformat.v4.new_notebook()
    # Generous limits for a loaded machine, each on a state: the kernel ready, a cell's reply,
    # and then its outputs up to the kernel's "idle". nbclient's default for the last is 4 s,
    # after which it gives up silently and a cell's last widget messages (the new PNG) could
    # be missed: here, waiting longer costs nothing, and a real timeout fails the test.
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=300,
        startup_timeout=300,
        iopub_timeout=300,
        raise_on_iopub_timeout=True,
        resources={"metadata": {"path": str(ROOT / "book")}},
    )
    with client.setup_kernel():
        yield client


def run(client: NotebookClient, source: str) -> str:
    """Execute one cell in the shared kernel; return what it printed."""
    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells.append(cell)
    client.execute_cell(cell, len(client.nb.cells) - 1)
    return "".join(
        out.text for out in cell.outputs if out.output_type == "stream" and out.name == "stdout"
    )


def received_png(client: NotebookClient, model_id: str) -> str:
    """The image as the front end holds it: the last PNG that came over the widget comm."""
    buffers = client.widget_buffers.get(model_id, {})
    if ("value",) in buffers:
        return buffers[("value",)]["data"]
    return str(client.widget_state.get(model_id, {}).get("value", ""))


def test_there_are_chapters_to_check():
    assert NOTEBOOKS, "book/ holds no chapter notebooks"


def test_every_registered_explorer_is_shown_in_a_chapter():
    from lessons_lib.widgets import EXPLORERS

    sources = "".join(path.read_text(encoding="utf-8") for path in NOTEBOOKS)
    called = set(re.findall(r"\b(\w+_explorer)\(", sources))
    assert set(EXPLORERS) <= called, f"never called in a chapter: {set(EXPLORERS) - called}"


def test_the_slice_keeps_what_an_explorer_needs():
    notebook = {
        "cells": [
            {"cell_type": "code", "source": "import torch"},
            {"cell_type": "code", "source": "tokens = ['a']\nunused = 1"},
            {"cell_type": "code", "source": "slow = train()"},
            {"cell_type": "code", "source": "from m import qkv_explorer\nw = torch.ones(2)"},
            {"cell_type": "code", "source": "w += 1"},
            {"cell_type": "code", "source": "def f():\n    tokens = 0\n    return slow"},
            {"cell_type": "code", "source": "qkv_explorer(tokens, w)"},
        ]
    }
    sources, n_explorer_cells = explorer_slice(notebook)
    assert n_explorer_cells == 1
    kept = [source.splitlines()[0] for source in sources]
    assert kept == [
        "import torch",
        "tokens = ['a']",
        "from m import qkv_explorer",
        "w += 1",
        "qkv_explorer(tokens, w)",
    ]  # not `slow = train()`: f's local `tokens` is not the explorer's, and f is never called


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_live_explorer_changes_its_picture(kernel, path):
    sources, n_explorer_cells = explorer_slice(json.loads(path.read_text(encoding="utf-8")))
    assert n_explorer_cells, f"{path.name} creates no explorer (no call to a *_explorer function)"
    run(kernel, "%reset -f")
    run(kernel, HELPERS + "\n_ipywidgets.Widget.close_all()")
    for source in sources:
        run(kernel, source)
    explorers = json.loads(run(kernel, "_lessons_describe()"))
    assert len(explorers) >= n_explorer_cells, f"{path.name}: explorers found: {explorers}"
    for index, explorer in enumerate(explorers):
        assert explorer["bytes"] > 0, f"{path.name}: live explorer shows no picture: {explorer}"
        for name, n_options in explorer["controls"].items():
            before = received_png(kernel, explorer["image"])
            changed = False
            for option in range(n_options):
                run(kernel, f"_lessons_move({index}, {name!r}, {option})")
                if received_png(kernel, explorer["image"]) != before:
                    changed = True
                    break
            assert changed, (
                f"{path.name}: moving {name!r} of the explorer {explorer['caption']!r} "
                "never sent the front end a new picture"
            )
