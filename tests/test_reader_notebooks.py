"""The reader notebooks the build writes (_ext/reader_notebooks.py), checked in the built site.

A reader who opens a chapter in Jupyter or Colab gets its reader notebook: the page's
numbers filled in, no MyST syntax, the source's code cells. Marked ``book``: they need
``_build/html`` (`make test` builds it first).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest

pytest.importorskip("myst_nb")  # the book's environment; the ipywidgets 7 test env has none
from markdown_it import MarkdownIt
from myst_nb.core.variables import format_plain_text

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
EXECUTED = ROOT / "_build" / "jupyter_execute"
sys.path.insert(0, str(ROOT))
from tools import reader_branch  # noqa: E402
from tools.setup_cell import repository_url, setup_cell_source  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.usefixtures("built_site")]  # tests/conftest.py

CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("*.ipynb"))
MYST_ONLY = ["{glue", ":::{", "```{", "{term}", "{cite", "{numref}", "{doc}", "{ref}", "{eq}"]
ANY_ROLE = re.compile(r"\{[a-z][a-z:\-]*\}<code>")  # a role as CommonMark renders it
GLUE_ROLE = re.compile(r"\{glue:text\}`([^`:]+):?([^`]*)`")
VENV7 = ROOT / ".venv-ipywidgets7"
IPYWIDGETS7_CONTROLS = "1.5.0"  # the @jupyter-widgets/controls version of ipywidgets 7


def source(name: str) -> dict:
    return json.loads((ROOT / "book" / f"{name}.ipynb").read_text(encoding="utf-8"))


def reader(name: str) -> dict:
    path = HTML / "_sources" / "book" / f"{name}.ipynb"
    assert path.is_file(), f"no reader notebook for {name} at {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def text(cell: dict) -> str:
    return "".join(cell["source"])


def rendered(notebook: dict) -> str:
    """All Markdown cells rendered as Jupyter does (CommonMark with tables), as one HTML."""
    markdown = MarkdownIt("commonmark").enable("table")
    return "\n".join(
        markdown.render(text(cell)) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )


def glued_in_text(name: str) -> list[tuple[str, str]]:
    """(glue name, value as the page shows it) for every glue role in the chapter's text."""
    store = json.loads((EXECUTED / "book" / f"{name}.glue.json").read_text(encoding="utf-8"))
    shown = []
    for cell in source(name)["cells"]:
        captions = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        for part in (
            text(cell) if cell["cell_type"] == "markdown" else "",
            captions.get("caption", ""),
        ):
            for key, spec in GLUE_ROLE.findall(part):
                shown.append((key, format_plain_text(store[key]["data"]["text/plain"], spec)))
    return shown


@pytest.mark.parametrize("name", CHAPTERS)
def test_reader_notebook_has_no_myst_syntax(name):
    notebook = reader(name)
    page = rendered(notebook)
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            left = [syntax for syntax in MYST_ONLY if syntax in text(cell)]
            assert not left, f"{name}: MyST syntax {left} left in {text(cell)[:200]!r}"
    assert not ANY_ROLE.search(page), f"{name}: a role is left: {ANY_ROLE.search(page)}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_every_number_the_page_quotes_is_in_the_reader_notebook(name):
    shown = glued_in_text(name)
    words = html.unescape(re.sub(r"<[^>]+>", " ", rendered(reader(name))))
    missing = [(key, value) for key, value in shown if value not in words]
    assert not missing, f"{name}: glued values missing from the reader notebook: {missing}"
    marked = set(re.findall(r"<sup>(\w+)</sup>", "\n".join(map(text, reader(name)["cells"]))))
    assert {key for key, _ in shown} <= marked, f"{name}: a glued number carries no name marker"
    page = (HTML / "book" / f"{name}.html").read_text(encoding="utf-8")
    page_words = html.unescape(re.sub(r"<[^>]+>", " ", page)).replace("\u2019", "'")
    not_on_page = [(key, value) for key, value in shown if value not in page_words]
    assert not not_on_page, f"{name}: the page itself does not show {not_on_page}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_code_cells_are_the_sources_without_outputs(name):
    ours = [cell for cell in reader(name)["cells"] if cell["cell_type"] == "code"]
    theirs = [cell for cell in source(name)["cells"] if cell["cell_type"] == "code"]
    assert [text(cell) for cell in ours] == [text(cell) for cell in theirs]
    assert text(ours[0]) == setup_cell_source()
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in ours)
    nbformat.validate(nbformat.from_dict(reader(name)))  # ids present and unique, as 4.5 asks


@pytest.mark.parametrize("name", CHAPTERS)
def test_reader_notebook_says_where_its_numbers_come_from(name):
    notebook = reader(name)
    note = text(notebook["cells"][1])
    assert "book's own run" in note and "may differ" in note, note
    assert notebook["metadata"]["lessons_reader"]["source"] == f"book/{name}.ipynb"
    captions = [
        cell["metadata"]["mystnb"]["figure"]["caption"]
        for cell in source(name)["cells"]
        if cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")
    ]
    shown = [text(cell) for cell in notebook["cells"] if text(cell).startswith("*Fig. ")]
    assert len(shown) == len(captions), f"{name}: {len(captions)} figures, {len(shown)} captions"


@pytest.mark.parametrize("name", CHAPTERS)
def test_launch_and_download_buttons_open_the_reader_notebook(name, tmp_path_factory):
    page = (HTML / "book" / f"{name}.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"]+)"', page))
    colab = [link for link in links if link.startswith("https://colab.research.google.com/")]
    binder = [link for link in links if link.startswith("https://mybinder.org/")]
    download = [link for link in links if link.endswith(f"_sources/book/{name}.ipynb")]
    assert len(colab) == len(binder) == len(download) == 1, (colab, binder, download)
    owner, repo = urlsplit(repository_url()).path.strip("/").split("/")
    branch = reader_branch.repository_branch()
    assert branch != "main", "the launch buttons must open the reader branch, not the sources"
    notebook = f"book/{name}.ipynb"
    assert urlsplit(colab[0]).path == f"/github/{owner}/{repo}/blob/{branch}/{notebook}"
    assert urlsplit(binder[0]).path == f"/v2/gh/{owner}/{repo}/{branch}"
    assert parse_qs(urlsplit(binder[0]).query)["urlpath"][0].endswith(notebook)
    downloaded = (HTML / "book" / download[0]).resolve()
    assert "lessons_reader" in json.loads(downloaded.read_text(encoding="utf-8"))["metadata"]
    # What the workflow pushes to the branch holds this notebook at the path the links name.
    out = tmp_path_factory.getbasetemp() / "readers"
    if not out.exists():
        reader_branch.gather(HTML, out)
    assert (out / notebook).read_bytes() == downloaded.read_bytes()


def test_reader_branch_tells_binder_what_to_install(tmp_path):
    written = reader_branch.gather(HTML, tmp_path / "readers")
    english = [f"book/{name}.ipynb" for name in CHAPTERS]
    assert written == sorted(english + [f"zh/{path}" for path in english])  # and the Chinese
    requirements = (tmp_path / "readers" / "requirements.txt").read_text(encoding="utf-8")
    assert requirements.strip() == f"lessons_lib @ git+{repository_url()}"
    with pytest.raises(ValueError, match="build the book first"):
        reader_branch.gather(tmp_path / "nothing", tmp_path / "out")


@pytest.mark.parametrize("edition", ["", "zh"], ids=["English", "Chinese"])
def test_a_reader_notebook_runs_under_colabs_ipywidgets(tmp_path, edition):
    """Chapter 02's reader notebook, top to bottom in a fresh kernel with ipywidgets 7.7.1."""
    if not (VENV7 / "bin" / "jupyter-execute").exists():
        if os.environ.get("REQUIRE_BOOK"):
            pytest.fail(f"{VENV7} is missing: `make widgets-ipywidgets7` creates it")
        pytest.skip(f"{VENV7} is missing")
    notebook = tmp_path / "02_softmax.ipynb"
    notebook.write_bytes((HTML / edition / "_sources" / "book" / "02_softmax.ipynb").read_bytes())
    env = {key: value for key, value in os.environ.items() if not key.startswith("LESSONS_")}
    env |= {"PATH": f"{VENV7 / 'bin'}:{env['PATH']}", "JUPYTER_PREFER_ENV_PATH": "1"}
    env |= {"OMP_NUM_THREADS": "1", "MPLBACKEND": "agg"}
    run = subprocess.run(
        [str(VENV7 / "bin" / "jupyter-execute"), "--inplace", "--timeout=300", str(notebook)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    executed = json.loads(notebook.read_text(encoding="utf-8"))
    outputs = [out for cell in executed["cells"] for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out["output_type"] == "error"]
    state = executed["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    controls = {
        model["model_module_version"]
        for model in state.values()
        if model["model_module"] == "@jupyter-widgets/controls"
    }
    assert controls == {IPYWIDGETS7_CONTROLS}, f"not ipywidgets 7's widgets: {controls}"
    printed = "".join("".join(out.get("text", "")) for out in outputs)
    shown = printed + "".join(
        "".join(out.get("data", {}).get("text/markdown", "")) for out in outputs
    )
    verdicts = ("✅ Correct:", "❌ Not yet:") if not edition else ("✅ 正确：", "❌ 还没对：")
    assert any(verdict in shown for verdict in verdicts), "no checker verdict in this language"
    if edition:  # the Chinese setup cell's set_language: no English verdict left
        assert "Not yet:" not in shown and "Correct:" not in shown
    for key, _ in glued_in_text("02_softmax"):
        assert f"{key} = " in printed, f"the kernel did not print {key} = ... for the reader"
