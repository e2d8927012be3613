"""The Chinese edition: its sources written from the English ones and the catalogs, then built.

    python tools/zh_book.py sources   # _build/zh/: the Chinese notebooks, pages and configuration
    python tools/zh_book.py render    # sources, then their site in _build/zh/_build/html
    python tools/zh_book.py build     # render, then copy that site into _build/html/zh

``tools/build_book.py`` runs ``render`` in a child process beside the English render, once the
chapters have run (the child loads its libraries while they run), and copies the site when both
are done, so ``make book`` makes both.

Each Chinese notebook is its English notebook with the outputs of the English run (read from
jupyter-cache's cache, where the English build put them) and every message of its Markdown
cells and figure captions replaced by its translation in
``locales/zh_CN/LC_MESSAGES/<chapter>.po`` (``tools/translations.py``). Its code cells are the
English ones, byte for byte, but for one line added to the setup cell, ``SET_LANGUAGE``, which
makes the checkers and explorers speak Chinese when a reader runs the notebook; the checkers'
verdicts printed in the English run are shown as that run would print them, with the
package's catalog. So its glued numbers are the English run's: the Chinese build executes
nothing (``execute_notebooks: off``), and no chapter runs twice.

A message with no translation, or a fuzzy one, stays English and is counted; the tests fail
while any is left (``tests/test_translations.py``).
"""

from __future__ import annotations

import ast
import copy
import datetime
import functools
import hashlib
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import translations
from inputs_hash import digest

ROOT = translations.ROOT
SOURCE = ROOT / "_build" / "zh"  # the Chinese book's sources (generated; never committed)
SITE = ROOT / "_build" / "html"
SUBFOLDER = "zh"  # the Chinese site's folder inside the English one, and in the readers branch
HTML_LANGUAGE = "zh_CN"
# A change to any of these re-reads every page (tools/build_book.py).
INPUTS = ["tools/zh_book.py", "tools/translations.py", "locales/zh_CN/glued_phrases.yaml"]
# The one line the Chinese notebooks add to the setup cell (their first code cell): the checkers'
# feedback and the explorers' labels in Chinese (lessons_lib/language.py). Every other code cell
# is the English one, byte for byte.
SET_LANGUAGE = 'lessons_lib.set_language("zh_CN")  # 中文版：检查器的反馈与探索器的标签用中文'
VERDICTS = translations.VERDICTS


class Translator:
    """Translations of one catalog; counts the messages it had to leave English."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.strings: dict[str, str] = {}
        self.missing: list[str] = []
        path = translations.catalog_path(name)
        if path.is_file():
            for message in translations.read_catalog(path):
                if message.id and message.string and not message.fuzzy:
                    self.strings[message.id] = message.string

    def __call__(self, english: str) -> str:
        if english in self.strings:
            return self.strings[english]
        self.missing.append(english)
        return english


def _write_if_changed(path: Path, text: str) -> None:
    """Write only a changed file, so that Sphinx re-reads only the pages that changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def executed(notebook: dict, cache_folder: Path) -> dict:
    """``notebook`` with the outputs of its run in jupyter-cache's cache at ``cache_folder``."""
    import nbformat
    from jupyter_cache import get_cache

    node = nbformat.from_dict(copy.deepcopy(notebook))
    cache = get_cache(str(cache_folder))
    try:
        _, merged = cache.merge_match_into_notebook(node)
    except KeyError as missing:
        raise SystemExit(
            f"zh_book: no English run of this notebook in {cache_folder} ({missing}); "
            "build the English book first (make book)"
        ) from None
    return merged


@functools.cache
def checker_messages() -> frozenset[str]:
    """The package's messages that a checker prints (not the explorers' labels); read from
    its source once per process (``translations.package_messages`` parses every module;
    without the live cells' labels, it imports neither lessons_lib nor torch)."""
    found = translations.package_messages(live=False)
    return frozenset(message for message, where in found if where.startswith("lessons_lib/checks/"))


def translated_feedback(
    text: str, feedback: Translator, messages: frozenset[str] | None = None
) -> str:
    """A checker's printed verdict with its known messages (``messages``: the checkers' own,
    by default) in Chinese, as the reader's own run would print it after ``set_language``;
    other outputs stay as they are."""
    if not any(verdict in text for verdict in VERDICTS):
        return text
    messages = checker_messages() if messages is None else messages
    for english in sorted(messages & set(feedback.strings), key=len, reverse=True):
        if english in text:  # whole words only, and never inside a longer word
            pattern = rf"(?<![A-Za-z]){re.escape(english)}(?![A-Za-z])"
            chinese = feedback.strings[english]
            text = re.sub(pattern, lambda _, chinese=chinese: chinese, text)
    return text


GLUED_PHRASES = ROOT / "locales" / "zh_CN" / "glued_phrases.yaml"
GLUE_MIME = "application/papermill.record/text/plain"  # where a glued value's text is kept
NUMBER = r"(-?\d+(?:\.\d+)?)"


def glued_phrases(path: Path = GLUED_PHRASES) -> list[tuple[re.Pattern[str], str]]:
    """The glued words' Chinese (``locales/zh_CN/glued_phrases.yaml``), as (pattern, Chinese)
    pairs, longest English first; ``{number}`` matches a decimal number and is kept."""
    pairs = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = []
    for pair in sorted(pairs, key=lambda pair: len(pair["en"]), reverse=True):
        english = pair["en"]
        pattern = re.escape(english).replace(re.escape("{number}"), NUMBER)
        if english[0].isalpha():  # whole words only
            pattern = r"(?<![A-Za-z])" + pattern
        if english[-1].isalpha():
            pattern += r"(?![A-Za-z])"
        found.append((re.compile(pattern), pair["zh"]))
    return found


def translated_glue(value: str, phrases: list[tuple[re.Pattern[str], str]]) -> str:
    """A glued piece of text in Chinese, piece by known piece (numbers kept); lists separated
    the English way take the Chinese separators."""
    for pattern, chinese in phrases:
        value = pattern.sub(
            lambda m, zh=chinese: zh.replace("{number}", "".join(m.groups())), value
        )
    return value.replace("; ", "；").replace(", ", "、")


def _translate_glue(output: dict, phrases: list[tuple[re.Pattern[str], str]]) -> None:
    """A glue record holding text (``repr`` of a str) gets its Chinese; numbers stay."""
    text = "".join(output.get("data", {}).get(GLUE_MIME, ""))
    if text[:1] in ("'", '"'):
        output["data"][GLUE_MIME] = repr(translated_glue(ast.literal_eval(text), phrases))


# Where a static explorer (lessons_lib/widgets/static.py) writes a control's label or its caption.
EXPLORER_SLOTS = (("> ", "</label>"), ('aria-label="', '"'), ('alt="', '"'), ("<em>", "</em>"))


def translated_explorer(text: str, feedback: Translator) -> str:
    """A static explorer's control labels and caption in Chinese, as ``set_language`` gives
    the live one; its frames stay as the English run drew them."""
    if "lessons-explorer" not in text:
        return text
    for english in sorted(feedback.strings, key=len, reverse=True):
        ours = html.escape(english, quote=True)
        if ours not in text:  # one search instead of a replace per slot
            continue
        theirs = html.escape(feedback.strings[english], quote=True)
        for before, after in EXPLORER_SLOTS:
            text = text.replace(before + ours + after, before + theirs + after)
    return text


def _translate_outputs(
    cell: dict,
    feedback: Translator,
    messages: frozenset[str],
    phrases: list[tuple[re.Pattern[str], str]],
) -> None:
    for output in cell.get("outputs", []):
        _translate_glue(output, phrases)
        if "text/html" in output.get("data", {}):
            source = translated_explorer("".join(output["data"]["text/html"]), feedback)
            if "lessons-live" in source:  # a live cell, written again with Chinese words
                # Imported here: lessons_lib loads torch, which tools/build_book.py never needs.
                from lessons_lib.widgets.live_static import relabelled_live_html

                source = relabelled_live_html(source, feedback)
            output["data"]["text/html"] = source
        if "text" in output:
            source = "".join(output["text"])
            output["text"] = translated_feedback(source, feedback, messages)
        for mime in ("text/markdown", "text/plain"):
            if mime in output.get("data", {}):
                source = "".join(output["data"][mime])
                output["data"][mime] = translated_feedback(source, feedback, messages)


def translated_notebook(path: Path, cache_folder: Path) -> tuple[dict, list[str]]:
    """Chapter ``path``'s Chinese notebook (the English outputs); the messages left English."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    translate = Translator(translations.catalog_name(path))
    result = json.loads(json.dumps(executed(notebook, cache_folder)))
    feedback = Translator(translations.PACKAGE_CATALOG)
    messages = checker_messages()
    phrases = glued_phrases()
    setup = next(cell for cell in result["cells"] if cell["cell_type"] == "code")
    setup["source"] = "".join(setup["source"]).rstrip("\n") + "\n" + SET_LANGUAGE
    for cell in result["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            cell["source"] = translations.translate_markdown(source, translate)
        elif cell["cell_type"] == "code":
            _translate_outputs(cell, feedback, messages, phrases)
            meta = cell.get("metadata", {}).get("mystnb", {})
            for key, field in (("figure", "caption"), ("image", "alt")):
                if isinstance(meta.get(key, {}).get(field), str):
                    meta[key][field] = translate(meta[key][field])
    result["metadata"]["language"] = "zh-CN"
    return result, translate.missing


EXECUTION_TABLE = "```{nb-exec-table}\n```"  # book/status.md: MyST-NB's table of the runs


def execution_table(cache_folder: Path) -> str:
    """The status page's table for the Chinese edition, which executes nothing: each chapter's
    run in this build, read from jupyter-cache's records of the English run it shows."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_folder))
    rows = ["| 章节 | 修改时间 | 运行方式 | 运行时间（秒） | 状态 |", "|---|---|---|---|---|"]
    for page in translations.pages():
        if page.suffix != ".ipynb":
            continue
        record = cache.match_cache_notebook(nbformat.read(page, as_version=4))
        seconds = record.data.get("execution_seconds", float("nan"))
        changed = datetime.datetime.fromtimestamp(page.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        # ✅: the cache holds only runs that succeeded (tools/build_book.py stops on a failure)
        method = "英文版的运行（缓存）"
        rows.append(f"| {{doc}}`{page.stem}` | {changed} | {method} | {seconds:.2f} | ✅ |")
    return "\n".join(rows)


def configuration(book: Translator) -> tuple[dict, dict]:
    """The Chinese book's _config.yml and _toc.yml, made from the English ones."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    config["title"] = book(config["title"])
    config["execute"] = {
        "execute_notebooks": "off",  # the notebooks carry the English run's outputs
        "cache": str(ROOT / config["execute"]["cache"]),  # read by the page steps (_ext)
    }
    config["exclude_patterns"] = ["_build", "**.ipynb_checkpoints", ".*", "**/.*"]
    config["repository"]["path_to_book"] = SUBFOLDER
    config["html"]["baseurl"] = config["html"]["baseurl"].rstrip("/") + f"/{SUBFOLDER}/"
    extensions = config["sphinx"]["local_extensions"]
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / folder) for name, folder in extensions.items()
    }
    sphinx = config["sphinx"]["config"]
    sphinx["language"] = HTML_LANGUAGE
    sphinx["html_search_language"] = "zh"  # Sphinx's Chinese search cuts words with jieba
    sphinx["lessons_other_language"] = {
        "label": "English",
        "lang": "en",
        "root": "..",
        "short": "EN",
        "title": "Read this page in English",
    }
    for part in toc["parts"]:
        part["caption"] = book(part["caption"])
    return config, toc


# What a Chinese notebook is made from besides its English notebook, its catalog and its run:
# this code, the package (its checkers' messages and live cells) and their catalogs.
NOTEBOOK_INPUTS = [
    "tools/zh_book.py",
    "tools/translations.py",
    "locales/zh_CN/glued_phrases.yaml",
    "lessons_lib",
]
WRITTEN = ".notebook-inputs.json"  # in the sources' folder: {notebook: its inputs' hash, left}


def notebook_inputs(page: Path, cache_folder: Path, shared: str | None = None) -> str:
    """One hash of everything chapter ``page``'s Chinese notebook is made from: the English
    notebook, its catalog, the run of it that the cache holds, and ``NOTEBOOK_INPUTS``
    (``shared``: their hash, when the caller has it already)."""
    import nbformat
    from jupyter_cache import get_cache

    hasher = hashlib.sha256()
    catalog = translations.catalog_path(translations.catalog_name(page))
    for path in (page, catalog):
        hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    hasher.update((shared or digest(ROOT, NOTEBOOK_INPUTS)).encode())
    try:
        run = get_cache(str(cache_folder)).match_cache_notebook(nbformat.read(page, as_version=4))
        hasher.update(f"run {run.pk} {run.hashkey} {run.created}".encode())
    except KeyError:
        hasher.update(b"no run")  # translated_notebook says what to do
    return hasher.hexdigest()


def write_sources(folder: Path = SOURCE) -> dict[str, list[str]]:
    """Write the Chinese book's sources into ``folder``; {page: messages left English}.

    A Chinese notebook whose inputs (:func:`notebook_inputs`) are those it was last written
    from is left as it is: reading a chapter's run and the checkers' messages takes seconds.
    """
    english_config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    cache_folder = ROOT / english_config["execute"]["cache"]
    missing: dict[str, list[str]] = {}
    record = folder / WRITTEN
    before = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
    record.unlink(missing_ok=True)  # written again once every source is
    written = {}
    shared = digest(ROOT, NOTEBOOK_INPUTS)  # the same for every notebook
    for page in translations.pages():
        target = folder / page.relative_to(ROOT)
        if page.suffix == ".ipynb":
            inputs = notebook_inputs(page, cache_folder, shared)
            name = page.relative_to(ROOT).as_posix()
            if target.is_file() and before.get(name, {}).get("inputs") == inputs:
                left = before[name]["left"]
            else:
                notebook, left = translated_notebook(page, cache_folder)
                text = json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"
                _write_if_changed(target, text)
            written[name] = {"inputs": inputs, "left": left}
        else:
            translate = Translator(translations.catalog_name(page))
            text = translations.translate_markdown(page.read_text(encoding="utf-8"), translate)
            if EXECUTION_TABLE in text:  # nothing runs here: the English run's records instead
                text = text.replace(EXECUTION_TABLE, execution_table(cache_folder))
            _write_if_changed(target, text)
            left = translate.missing
        if left:
            missing[page.stem] = left
    for extra in ("book/references.bib", "book/favicon.svg"):
        target = folder / extra
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_bytes() != (ROOT / extra).read_bytes():
            shutil.copyfile(ROOT / extra, target)
    book = Translator(translations.BOOK_CATALOG)
    config, toc = configuration(book)
    _write_if_changed(folder / "_config.yml", yaml.safe_dump(config, allow_unicode=True))
    _write_if_changed(folder / "_toc.yml", yaml.safe_dump(toc, allow_unicode=True, sort_keys=False))
    if book.missing:
        missing[translations.BOOK_CATALOG] = book.missing
    record.write_text(json.dumps(written, indent=1), encoding="utf-8")
    return missing


def render(folder: Path, arguments: list[str]) -> int:
    """``jupyter-book build folder ...`` in this process; 0 when it succeeded."""
    from jupyter_book.cli.main import main as jupyter_book

    try:
        jupyter_book(["build", str(folder), *arguments], standalone_mode=False)
    except SystemExit as stop:  # it exits non-zero when the build failed
        return 1 if stop.code else 0
    return 0


def render_sources(arguments: list[str]) -> int:
    """Write the sources and build them with Jupyter Book into _build/zh/_build/html."""
    began = time.perf_counter()
    missing = write_sources()
    for page, left in missing.items():
        print(f"zh_book: {page}: {len(left)} message(s) not translated yet, left in English")
    if render(SOURCE, arguments):
        return 1
    print(f"zh_book: the Chinese site rendered in {time.perf_counter() - began:.1f} s")
    return 0


def copy_site() -> int:
    """Copy the built Chinese site into _build/html/zh."""
    target = SITE / SUBFOLDER
    shutil.copytree(SOURCE / "_build" / "html", target, dirs_exist_ok=True)
    print(f"zh_book: the Chinese site is in {target.relative_to(ROOT)}")
    return 0


def build(arguments: list[str]) -> int:
    """The sources, their site, and its copy into _build/html/zh, in this process."""
    return render_sources(arguments) or copy_site()


GO = b"go\n"  # what start_build's child waits for: the chapters' run is in the cache


def load_libraries() -> None:
    """Import what writing and rendering the sources use (jupyter-cache, nbformat, MyST-NB,
    Jupyter Book; about three seconds), reading no file of the build."""
    import jupyter_book.sphinx  # noqa: F401
    import jupyter_cache.cache.main  # noqa: F401
    import myst_nb.sphinx_ext  # noqa: F401


def start_build(arguments: list[str]) -> subprocess.Popen:
    """Start ``render`` (:func:`render_sources`) in a child process now: it loads its libraries
    while the chapters run, then waits for :func:`go_on`. It renders beside the English render,
    one core each, and needs only the chapters' run (the cache), not the English site."""
    command = [sys.executable, str(Path(__file__).resolve()), "render-after-go", *arguments]
    return subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def go_on(child: subprocess.Popen, go: bool = True) -> None:
    """Tell :func:`start_build`'s child that the chapters' run is in the cache (``go``), or
    that there is none and it stops."""
    try:
        child.stdin.write(GO if go else b"stop\n")
        child.stdin.flush()  # left open: finish_build's communicate() closes it
    except BrokenPipeError:
        pass  # it has stopped already; finish_build shows why


def finish_build(child: subprocess.Popen) -> int:
    """Wait for :func:`start_build`'s child, show its output, and copy its site into
    _build/html/zh (once the English site is written); 0 when it succeeded."""
    print(child.communicate()[0].decode(errors="replace"), end="")
    if child.returncode != 0:
        print(f"zh_book: the Chinese build failed (exit {child.returncode}); its output is above")
        return 1
    return copy_site()


def main(arguments: list[str]) -> int:
    command = arguments[0] if arguments else ""
    if command == "sources":
        missing = write_sources()
        print(f"zh_book: sources in {SOURCE.relative_to(ROOT)}; untranslated: "
              f"{ {page: len(left) for page, left in missing.items()} }")  # fmt: skip
        return 0
    if command == "render":
        return render_sources(arguments[1:])
    if command == "render-after-go":  # tools/build_book.py's child (start_build)
        load_libraries()
        if sys.stdin.buffer.readline() != GO:
            print("zh_book: stopped before rendering: the chapters' run is not in the cache")
            return 1
        return render_sources(arguments[1:])
    if command == "build":
        return build(arguments[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
