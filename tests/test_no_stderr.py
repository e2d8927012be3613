"""No page shows a warning: no executed chapter writes to stderr (issue 22, point 8).

A warning printed into a page (a torch ``UserWarning``, a deprecation notice) tells the
reader that something is wrong with the code they are reading; the chapters must run clean.
Reads the executed notebooks the book build keeps in ``_build/jupyter_execute``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "_build" / "jupyter_execute" / "book"
CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("*.ipynb"))

pytestmark = pytest.mark.book


def stderr_outputs(notebook: Path) -> list[tuple[int, str]]:
    """(cell index, text) of every stderr stream in an executed notebook."""
    found = []
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append((index, "".join(output.get("text", ""))))
    return found


def test_the_check_finds_a_stderr_stream(tmp_path):
    notebook = {
        "cells": [
            {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout"}]},
            {
                "cell_type": "code",
                "outputs": [{"output_type": "stream", "name": "stderr", "text": ["Warn", "ing"]}],
            },
        ]
    }
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    assert stderr_outputs(path) == [(1, "Warning")]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_executed_chapter_writes_to_stderr(chapter):
    executed = EXECUTED / f"{chapter}.ipynb"
    if not executed.exists():
        pytest.fail(f"{executed} is missing: build the book first (make book)")
    found = stderr_outputs(executed)
    assert not found, "\n".join(f"{chapter}, cell {index}: {text[:300]}" for index, text in found)
