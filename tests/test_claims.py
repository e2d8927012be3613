"""Every claim a chapter makes about a run holds for the values that run glued.

The book build executes each chapter and keeps the executed notebook in
``_build/jupyter_execute``. A chapter stores the numbers its sentences quote with
``lessons_lib.glue.glue``; this test reads them back and checks each claim listed
in ``tests/claims/<chapter>.py``. A claim that the run no longer supports fails here,
even if the sentence still renders.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest

import tests.claims as claims_package

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "_build" / "jupyter_execute" / "book"
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([A-Za-z_]\w*)")

pytestmark = pytest.mark.book


def parse(output: dict) -> object:
    """A glued output's value, parsed back from its stored text form."""
    data = output.get("data", {})
    prefix = output.get("metadata", {}).get("scrapbook", {}).get("mime_prefix", "")
    text = data.get(f"{prefix}text/plain") or data.get("text/plain", "")
    text = "".join(text)
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def glued_values(notebook: Path) -> dict[str, object]:
    """name -> value of everything an executed notebook glued.

    MyST-NB takes the glued outputs out of the notebook it saves and writes them beside
    it, to ``<name>.glue.json``; a notebook executed elsewhere (nbclient) still holds them.
    """
    sidecar = notebook.with_suffix(".glue.json")
    if sidecar.exists():
        return {name: parse(output) for name, output in json.loads(sidecar.read_text()).items()}
    values: dict[str, object] = {}
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                values[name] = parse(output)
    return values


def chapter_claims():
    for module_info in pkgutil.iter_modules(claims_package.__path__):
        module = importlib.import_module(f"tests.claims.{module_info.name}")
        for index, claim in enumerate(module.CLAIMS):
            yield pytest.param(module.NOTEBOOK, claim, id=f"{module.NOTEBOOK}-{index}")


def executed(notebook: str) -> Path:
    path = EXECUTED / f"{notebook}.ipynb"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is missing: run `make book` first")
    return path


@pytest.mark.parametrize(("notebook", "claim"), list(chapter_claims()))
def test_claim_holds_for_the_glued_values(notebook, claim):
    values = glued_values(executed(notebook))
    assert claim.holds(values), f"{notebook}: no longer true: {claim.sentence!r} ({values})"


@pytest.mark.parametrize("source", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_glue_reference_names_a_glued_value(source):
    cells = json.loads(source.read_text())["cells"]
    referenced = {
        name
        for cell in cells
        if cell["cell_type"] == "markdown"
        for name in GLUE_ROLE.findall("".join(cell["source"]))
    }
    if not referenced:
        pytest.skip(f"{source.name} quotes no glued value")
    missing = referenced - set(glued_values(executed(source.stem)))
    assert not missing, f"{source.name} quotes values it never glues: {sorted(missing)}"
