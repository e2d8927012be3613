"""Reader notebooks: each chapter as Jupyter and Colab show it, with the book's numbers.

The chapters' Markdown is MyST: ``{glue:text}`name:.1%``` quotes a number the build
computed, ``{cite:t}`` a paper, ``{doc}`` and ``{ref}`` another page. Jupyter and Colab
render plain Markdown only, so a reader who opens a source notebook there sees the roles,
not the numbers. After each HTML build, this extension writes, for every chapter, a
notebook for readers where the download button finds it (``_sources/book/<chapter>.ipynb``):

- each glued number is the value this build computed, formatted as on the page, with the
  glue name after it in small type (``0.49<sup>gap</sup>``): running the code cell above
  prints ``gap = ...``, so the reader can match their run with the book's;
- a note after the title says where the numbers come from and that a run may differ;
- citations become "Vaswani et al. (2017)" linked to the bibliography page, and ``{doc}``
  and ``{ref}`` links to the published pages (``html.baseurl`` in ``_config.yml``);
- each figure's caption (cell metadata, which Jupyter does not show) follows its cell;
- code cells are the source's, unchanged, without outputs.

The glued values are read from MyST-NB's glue store (``<chapter>.glue.json`` in its output
folder, what its cross-page ``glue`` reads) and formatted by MyST-NB's own function, so a
number reads exactly as on the page. Any MyST syntax this module does not know stops the
build with the chapter and the text, instead of reaching readers raw.
``tools/reader_branch.py`` gathers the notebooks into the branch that Colab and Binder open.
"""

from __future__ import annotations

import copy
import datetime
import importlib.metadata
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from myst_nb.core.variables import format_plain_text
from myst_nb.ext.glue.crossref import read_glue_cache
from pybtex.database import parse_file
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

READER_KEY = "lessons_reader"  # notebook metadata that marks a reader notebook
ROLE = re.compile(r"\{(?P<name>[a-z][a-z:\-]*)\}`(?P<text>[^`]*)`")
DIRECTIVE = re.compile(r"^\s*(```+|:::+)\s*\{", re.MULTILINE)
TARGET = re.compile(r"^\s*\([^)\s]+\)=\s*$", re.MULTILINE)
EXPLICIT_TARGET = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)


class ReaderNotebookError(ExtensionError):
    """A chapter uses MyST syntax that the reader notebook cannot turn into Markdown."""


# --- the book's facts a reader notebook needs -------------------------------------------


def published_page(app: Sphinx, docname: str, anchor: str = "") -> str:
    """The address of ``docname``'s page in the published book (html.baseurl)."""
    base = app.config.html_baseurl
    if not base:
        raise ReaderNotebookError("reader notebooks link to the published book: set html.baseurl")
    page = base.rstrip("/") + "/" + docname + ".html"
    return page + (f"#{anchor}" if anchor else "")


def author_year(path: Path) -> dict[str, tuple[str, str]]:
    """{citation key: (authors as cited, year)} for every entry of a BibTeX file."""
    cited = {}
    for key, entry in parse_file(str(path)).entries.items():
        surnames = [" ".join(person.last_names) for person in entry.persons.get("author", [])]
        surnames = [re.sub(r"[{}]", "", name) for name in surnames]
        if len(surnames) >= 3:
            authors = f"{surnames[0]} et al."
        elif len(surnames) == 2:
            authors = f"{surnames[0]} and {surnames[1]}"
        else:
            authors = surnames[0] if surnames else key
        cited[key] = (authors, entry.fields.get("year", "n.d."))
    return cited


def bibliography_doc(app: Sphinx) -> str:
    """The page that holds the bibliography (the one with a ``bibliography`` directive)."""
    for docname in sorted(app.env.found_docs):
        source = Path(app.env.doc2path(docname))
        if source.suffix == ".md" and "{bibliography}" in source.read_text(encoding="utf-8"):
            return docname
    raise ReaderNotebookError("reader notebooks link citations to a bibliography page; none found")


class Chapter:
    """What converting one chapter's Markdown needs: its glued values and the book's links."""

    def __init__(self, app: Sphinx, docname: str, citations: dict[str, tuple[str, str]]):
        self.app = app
        self.docname = docname
        self.citations = citations
        self.bibliography = published_page(app, bibliography_doc(app))
        folder = app.env.mystnb_config.output_folder
        self.glued = read_glue_cache(str(folder), docname)
        self.used: list[tuple[str, str]] = []  # (glue name, value as shown), in order

    # --- one role at a time ---------------------------------------------------------------

    def glue_text(self, text: str) -> str:
        name, _, spec = text.partition(":")
        record = self.glued.get(name)
        if record is None or "text/plain" not in record.get("data", {}):
            raise ReaderNotebookError(f"{self.docname}: nothing was glued as {name!r}")
        value = format_plain_text(record["data"]["text/plain"], spec)
        self.used.append((name, value))
        return f"{value}<sup>{name}</sup>"

    def cite(self, text: str, parenthetical: bool) -> str:
        parts = []
        for key in (key.strip() for key in text.split(",")):
            if key not in self.citations:
                raise ReaderNotebookError(f"{self.docname}: no bibliography entry {key!r}")
            authors, year = self.citations[key]
            label = f"{authors}, {year}" if parenthetical else f"{authors} ({year})"
            parts.append(f"[{label}]({self.bibliography})")
        return f"({'; '.join(parts)})" if parenthetical else ", ".join(parts)

    def doc(self, text: str) -> str:
        label, target = self.split_target(text)
        if not target.startswith("/"):
            target = posixpath.join(posixpath.dirname(self.docname), target)
        docname = posixpath.normpath(target.lstrip("/")).removesuffix(".ipynb").removesuffix(".md")
        if docname not in self.app.env.found_docs:
            raise ReaderNotebookError(f"{self.docname}: {{doc}} to a missing page {text!r}")
        title = label or self.app.env.titles[docname].astext()
        return f"[{title}]({published_page(self.app, docname)})"

    def ref(self, text: str) -> str:
        label, target = self.split_target(text)
        labels = self.app.env.domaindata["std"]["labels"]
        if target.lower() not in labels:
            raise ReaderNotebookError(f"{self.docname}: {{ref}} to a missing label {text!r}")
        docname, anchor, section = labels[target.lower()]
        return f"[{label or section}]({published_page(self.app, docname, anchor)})"

    @staticmethod
    def split_target(text: str) -> tuple[str, str]:
        match = EXPLICIT_TARGET.match(text.strip())
        if match:
            return " ".join(match["text"].split()), match["target"].strip()
        return "", text.strip()

    # --- a whole cell ---------------------------------------------------------------------

    def markdown(self, source: str) -> str:
        if DIRECTIVE.search(source) or TARGET.search(source):
            raise ReaderNotebookError(
                f"{self.docname}: a directive or target that reader notebooks cannot show yet; "
                f"teach _ext/reader_notebooks.py to convert it: {source[:120]!r}"
            )

        def convert(match: re.Match) -> str:
            name, text = match["name"], match["text"]
            if name == "glue:text":
                return self.glue_text(text)
            if name in ("cite:t", "cite:p"):
                return self.cite(text, parenthetical=name == "cite:p")
            if name == "doc":
                return self.doc(text)
            if name == "ref":
                return self.ref(text)
            raise ReaderNotebookError(
                f"{self.docname}: the role {{{name}}} has no plain-Markdown form in "
                f"_ext/reader_notebooks.py yet: {match[0]!r}"
            )

        return ROLE.sub(convert, source)


# --- one notebook -----------------------------------------------------------------------


def note_for_readers(chapter: Chapter, page: str, chinese: bool = False) -> str:
    """The note after the title: where the numbers come from, and how to compare them.

    ``chinese``: the note in Chinese, for the Chinese edition's notebooks (tools/zh_book.py).
    """
    versions = ", ".join(
        f"{package} {importlib.metadata.version(package)}" for package in ("torch", "numpy")
    )
    built = datetime.date.today().isoformat()
    if chinese:
        example = ""
        if chapter.used:
            name, value = chapter.used[0]
            example = (
                f"每个数字后面用小字标出代码单元格给它起的名字，例如 {value}<sup>{name}</sup>："
                f"运行那个单元格时，它会打印 `{name} = ...`，即你这次运行得到的值。"
            )
        return (
            f"> **你正在阅读[本章网页]({page})对应的笔记本。** "
            f"文中的数字来自本书自己的一次运行（{built}，{versions}）。{example}"
            "在其他硬件或其他库版本上，你的结果可能略有不同。"
        )
    if chapter.used:
        name, value = chapter.used[0]
        example = (
            f" Each carries, in small type, the name its code cell gives it, like "
            f"{value}<sup>{name}</sup>: when you run that cell, it prints `{name} = ...`, "
            "the value of your run."
        )
    else:
        example = ""
    return (
        f"> **You are reading the notebook of [this chapter's page]({page}).** "
        f"The numbers in its text come from the book's own run ({built}, {versions})."
        f"{example} Yours may differ slightly on other hardware or other library versions."
    )


def figure_numbers(app: Sphinx, docname: str) -> list[str]:
    """The numbers the page gives its figures, in page order ("4", or "2.1")."""
    numbers = app.env.toc_fignumbers.get(docname, {}).get("figure", {}).values()
    return [".".join(map(str, number)) for number in sorted(numbers)]


def reader_notebook(app: Sphinx, docname: str, citations: dict[str, tuple[str, str]]) -> dict:
    """The reader's copy of chapter ``docname`` (a notebook as parsed JSON)."""
    source = Path(app.env.doc2path(docname))
    notebook = json.loads(source.read_text(encoding="utf-8"))
    chapter = Chapter(app, docname, citations)
    chinese = str(app.config.language or "").startswith("zh")  # the Chinese edition
    numbers = iter(figure_numbers(app, docname))
    cells = []
    for cell in notebook["cells"]:
        cell = copy.deepcopy(cell)
        cells.append(cell)
        if cell["cell_type"] == "markdown":
            cell["source"] = chapter.markdown("".join(cell["source"]))
            continue
        if cell["cell_type"] != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        caption = cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")
        if caption:
            number = next(numbers, None)
            if chinese:
                label = f"图 {number}" if number else "图"
            else:
                label = f"Fig. {number}" if number else "Figure"
            text = f"*{label}: {chapter.markdown(caption)}*"
            cells.append({"cell_type": "markdown", "metadata": {}, "source": text})
    page = published_page(app, docname)
    title = next(i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown")
    note = {
        "cell_type": "markdown",
        "metadata": {},
        "source": note_for_readers(chapter, page, chinese),
    }
    cells.insert(title + 1, note)
    seen: set[str] = set()
    for index, cell in enumerate(cells):  # nbformat 4.5: every cell has an id, each once
        if cell.get("id", "") in seen or not cell.get("id"):
            cell["id"] = f"reader-{index}"
        seen.add(cell["id"])
    notebook["cells"] = cells
    notebook["metadata"][READER_KEY] = {
        "source": source.relative_to(Path(app.srcdir)).as_posix(),
        "page": page,
        "glued": dict(chapter.used),
    }
    return notebook


def download_path(app: Sphinx, docname: str) -> Path:
    """Where the page's download button points: Sphinx's copy of the source."""
    name = docname + ".ipynb"
    suffix = app.config.html_sourcelink_suffix
    if not name.endswith(suffix):
        name += suffix
    return Path(app.outdir, "_sources", name)


def write_reader_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    citations: dict[str, tuple[str, str]] = {}
    for bibfile in app.config.bibtex_bibfiles:
        citations |= author_year(Path(app.srcdir, bibfile))
    for docname in sorted(app.env.found_docs):
        if Path(app.env.doc2path(docname)).suffix != ".ipynb":
            continue
        notebook = reader_notebook(app, docname, citations)
        path = download_path(app, docname)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", write_reader_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
