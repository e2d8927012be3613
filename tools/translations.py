"""The Chinese edition's catalogs: the book's prose as gettext messages, and their checks.

    python tools/translations.py extract   # _build/gettext/<page>.pot: the English messages
    python tools/translations.py update    # extract, then `sphinx-intl update` (locales/zh_CN)
    python tools/translations.py status    # per catalog: translated, fuzzy, untranslated, faulty
    python tools/translations.py check PO  # one catalog's faulty translations, with what is wrong
    python tools/translations.py export NAME YAML  # a catalog as an editable list of en/zh pairs
    python tools/translations.py import NAME YAML  # those pairs back into the catalog
    python tools/translations.py check-yaml YAML   # a YAML's pairs, before importing them

The English notebooks and pages are the source; translations live in gettext catalogs
(``locales/zh_CN/LC_MESSAGES/<page>.po``) that ``sphinx-intl`` keeps in step with them: an
English message that changes comes back *fuzzy*, with its old translation to start from (or
empty, like a new one, when it changed too much for sphinx-intl to match it).

A message is one block of a page's Markdown: a heading, a paragraph, a whole list, a table, or
one entry of the glossary (blocks are separated by blank lines). Code, math blocks, labels and
directive lines are never messages: they are copied as they are. A figure's caption and its
alt text (a code cell's ``mystnb`` metadata) are messages too. Code cells are never
translated: the Chinese notebooks' code is byte for byte the English code.

``tools/zh_book.py`` writes the Chinese sources from these catalogs. A translation it uses must
keep what the build reads: every glued number, cross-reference target, citation, inline math
and code span of its English message, the heading level, the table's shape and the glossary
entry's layout (:func:`problems` lists what is wrong).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
POT_FOLDER = ROOT / "_build" / "gettext"
LOCALES = ROOT / "locales"
LANGUAGE = "zh_CN"
# The book's own words outside its pages: the title and the part captions of _toc.yml.
BOOK_CATALOG = "_book"
# The package's feedback (lessons_lib/language.py): the checkers' verdicts, success messages,
# mistakes and hints, and the explorers' control labels and captions, written as literals.
PACKAGE = ROOT / "lessons_lib"
PACKAGE_CATALOG = "lessons_lib"
PACKAGE_LOCALES = PACKAGE / "locale"
PACKAGE_POT_FOLDER = ROOT / "_build" / "gettext-package"
VERDICTS = ("✅ Correct:", "❌ Not yet:")  # lessons_lib/checks/core.py, CheckResult.__str__

FENCE = re.compile(r"^(?P<indent>\s*)(?P<marks>`{3,}|:{3,})(?P<info>.*)$")
CODE_DIRECTIVES = {"code", "code-block", "code-cell", "math", "raw", "eval-rst"}
LABEL = re.compile(r"^\(\S+\)=\s*$")


@dataclass(frozen=True)
class Piece:
    """A stretch of Markdown: a message to translate, or text copied as it is."""

    text: str
    message: bool


def _is_prose(block: str) -> bool:
    """Whether a block holds words to translate (not a label, math block, comment or bare role)."""
    stripped = block.strip()
    if LABEL.match(stripped) or stripped.startswith("<!--"):
        return False
    if stripped.startswith("$$") and stripped.endswith("$$"):
        return False
    if stripped.startswith("\\begin{") or stripped.startswith("<"):
        return False
    words = re.sub(r"\$[^$]*\$|`[^`]*`|\{[^}]*\}", " ", stripped)
    return re.search(r"[A-Za-z]{2,}", words) is not None


def _alone(line: str) -> bool:
    """A line that is a block by itself: a target label ``(name)=`` or a heading."""
    return bool(LABEL.match(line.strip()) or re.match(r"^#{1,6}\s", line))


def pieces(text: str) -> list[Piece]:
    """Cut Markdown into messages and verbatim pieces; their texts joined give ``text`` back."""
    lines = text.splitlines(keepends=True)
    out: list[Piece] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            out.append(Piece(line, False))
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            marks = fence["marks"]
            closing = re.compile(rf"^\s*{re.escape(marks[0])}{{{len(marks)},}}\s*$")
            j = i + 1
            while j < len(lines) and not closing.match(lines[j]):
                j += 1
            info = fence["info"].strip()
            name = info[1 : info.find("}")] if info.startswith("{") and "}" in info else ""
            if not name or name in CODE_DIRECTIVES:  # code: copied whole
                out.append(Piece("".join(lines[i : j + 1]), False))
            else:  # a directive: its own lines copied, its body cut in turn
                out.append(Piece(line, False))
                k = i + 1
                while k < j and re.match(r"^\s*:[\w-]+:", lines[k]):
                    out.append(Piece(lines[k], False))
                    k += 1
                out.extend(pieces("".join(lines[k:j])))
                if j < len(lines):
                    out.append(Piece(lines[j], False))
            i = j + 1
            continue
        j = i + 1  # a block: up to a blank line or fence; a label or heading is a block alone
        if not _alone(line):
            while j < len(lines) and lines[j].strip() and not FENCE.match(lines[j]):
                if _alone(lines[j]):
                    break
                j += 1
        block = "".join(lines[i:j])
        body = block.rstrip("\n")
        out.append(Piece(body, _is_prose(body)))
        if block != body:
            out.append(Piece(block[len(body) :], False))
        i = j
    return out


def _front_matter(text: str) -> tuple[str, str]:
    """A page's YAML front matter (kept as it is) and the Markdown after it."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end != -1:
            return text[: end + 5], text[end + 5 :]
    return "", text


def translate_markdown(text: str, translate) -> str:
    """``text`` with each message replaced by ``translate(message)``; the rest as it is."""
    head, body = _front_matter(text)
    return head + "".join(
        translate(piece.text) if piece.message else piece.text for piece in pieces(body)
    )


def cell_messages(cell: dict) -> list[str]:
    """A notebook cell's messages: a Markdown cell's blocks; a code cell's caption and alt text."""
    if cell["cell_type"] == "markdown":
        source = "".join(cell["source"])
        return [piece.text for piece in pieces(_front_matter(source)[1]) if piece.message]
    meta = cell.get("metadata", {}).get("mystnb", {})
    found = [meta.get("figure", {}).get("caption"), meta.get("image", {}).get("alt")]
    return [text for text in found if isinstance(text, str) and text.strip()]


def pages() -> list[Path]:
    """Every page of the book that _toc.yml lists (notebooks and Markdown pages)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    found = []
    for file in files:
        for suffix in (".ipynb", ".md"):
            if (ROOT / (file + suffix)).is_file():
                found.append(ROOT / (file + suffix))
    return found


def page_messages(path: Path) -> Iterator[tuple[str, str]]:
    """(message, where) for every message of one page, in reading order."""
    if path.suffix == ".ipynb":
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for index, cell in enumerate(notebook["cells"]):
            for message in cell_messages(cell):
                yield message, f"{path.name}:cell {index} ({cell.get('id', '')})"
    else:
        text = path.read_text(encoding="utf-8")
        for piece in pieces(_front_matter(text)[1]):
            if piece.message:
                yield piece.text, path.name


def book_messages() -> list[str]:
    """The title in _config.yml and the part captions in _toc.yml."""
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [config["title"], *[part["caption"] for part in toc["parts"]]]


def package_messages(live: bool = True) -> list[tuple[str, str]]:
    """(message, where) for every literal the package shows a reader in a chapter's language.

    The string constants given as a ``Mistake``'s name and hint, an ``Exercise``'s
    ``success``, and a control's ``description`` or an explorer's ``caption``, in
    ``lessons_lib/checks`` and ``lessons_lib/widgets``, and (``live``) the live cells' labels
    (``live_messages``; reading them imports lessons_lib, and so torch); f-strings are left
    out (they stay English), as are labels without a word of three letters (``T``, ``d_k``).
    """
    import ast

    found = [(verdict, "lessons_lib/checks/core.py") for verdict in VERDICTS]
    for folder in ("checks", "widgets"):
        for path in sorted((PACKAGE / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                texts = list(node.args[:2]) if name == "Mistake" else []
                wanted = {"success", "description", "caption"} | (
                    {"name", "hint"} if name == "Mistake" else set()
                )
                texts += [keyword.value for keyword in node.keywords if keyword.arg in wanted]
                for text in texts:
                    if (
                        isinstance(text, ast.Constant)
                        and isinstance(text.value, str)
                        and re.search(r"[A-Za-z]{3,}", text.value)
                    ):
                        found.append((text.value, f"{path.relative_to(ROOT)}:{node.lineno}"))
    if not live:
        return found
    # The live cells' words (lessons_lib/widgets/live_static.py), kept in two dictionaries.
    from lessons_lib.widgets.live_static import live_messages

    found += [(label, "lessons_lib/widgets/live_static.py") for label in live_messages()]
    return found


def catalog_name(path: Path) -> str:
    """The catalog of a page: its file name without the suffix (``01_qkv``, ``glossary``)."""
    return path.stem


def _write_template(path: Path, messages: list[tuple[str, str]]) -> Path:
    catalog = Catalog(project="Attention, Hands-On", fuzzy=False)
    for message, where in messages:
        catalog.add(message, locations=[(where, None)] if where else ())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False)
    return path


def extract(folder: Path = POT_FOLDER) -> list[Path]:
    """Write one ``.pot`` template per page (and one for the book's title and parts), and the
    package's template (its feedback) into ``PACKAGE_POT_FOLDER``."""
    sources = {catalog_name(page): list(page_messages(page)) for page in pages()}
    sources[BOOK_CATALOG] = [(message, "_toc.yml") for message in book_messages()]
    written = [_write_template(folder / f"{name}.pot", found) for name, found in sources.items()]
    package = PACKAGE_POT_FOLDER / f"{PACKAGE_CATALOG}.pot"
    return [*written, _write_template(package, package_messages())]


def update() -> None:
    """Extract, then merge the templates into the Chinese catalogs (new ones fuzzy-matched),
    and compile the package's catalog into the ``.mo`` that :mod:`gettext` reads."""
    extract()
    intl = [sys.executable, "-m", "sphinx_intl"]
    for templates, locales in ((POT_FOLDER, LOCALES), (PACKAGE_POT_FOLDER, PACKAGE_LOCALES)):
        subprocess.run(
            [*intl, "update", "-p", str(templates), "-l", LANGUAGE, "-d", str(locales), "-w", "0"],
            check=True,
        )
    compile_package_catalog()


def compile_package_catalog() -> Path:
    """Compile the package's catalog to its ``.mo`` (translated, not fuzzy, messages only)."""
    from babel.messages.mofile import write_mo

    path = catalog_path(PACKAGE_CATALOG).with_suffix(".mo")
    with path.open("wb") as handle:
        write_mo(handle, read_catalog(catalog_path(PACKAGE_CATALOG)), use_fuzzy=False)
    return path


def catalog_path(name: str) -> Path:
    """Where catalog ``name`` lives: the package's in lessons_lib/locale, the pages' in locales."""
    root = PACKAGE_LOCALES if name == PACKAGE_CATALOG else LOCALES
    return root / LANGUAGE / "LC_MESSAGES" / f"{name}.po"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGE)


# What a translation must keep of its English message.
GLUE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
TARGET_ROLES = re.compile(r"\{(doc|ref|numref|eq|term|download)\}`(?:[^`<]*<)?([^`>]*)>?`")
CITE = re.compile(r"\{cite(?::\w+)?\}`[^`]*`")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)([^$]+?)(?<!\\)\$")
CODE_SPAN = re.compile(r"(?<![`{}])`([^`]+)`(?!`)")
LINK_URL = re.compile(r"\]\(([^)]+)\)")


def _roles_stripped(text: str) -> str:
    """``text`` without its roles, so that a role's own backticks are not read as code spans."""
    return re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)


def problems(english: str, chinese: str) -> list[str]:
    """What a translation lost or changed of its English message (empty when it is sound)."""
    found: list[str] = []

    def same(kind: str, pattern: re.Pattern, text_of=lambda m: m.group(0), clean=None) -> None:
        a = Counter(text_of(m) for m in pattern.finditer(clean(english) if clean else english))
        b = Counter(text_of(m) for m in pattern.finditer(clean(chinese) if clean else chinese))
        if a != b:
            missing, extra = sorted((a - b).elements()), sorted((b - a).elements())
            found.append(f"{kind} differ: missing {missing}, added {extra}")

    same("glued values", GLUE)
    same("cross-reference targets", TARGET_ROLES, lambda m: f"{m.group(1)}:{m.group(2).strip()}")
    same("citations", CITE)
    same("inline math", INLINE_MATH, lambda m: m.group(1).strip())
    same("code spans", CODE_SPAN, lambda m: m.group(1), clean=_roles_stripped)
    same("link addresses", LINK_URL, lambda m: m.group(1))
    heading = re.match(r"^(#+)\s", english)
    if heading and not re.match(rf"^{heading.group(1)}\s", chinese):
        found.append(f"the heading must keep its level {heading.group(1)!r}")
    if english.lstrip().startswith("|"):
        rows_en = english.strip().splitlines()
        rows_zh = chinese.strip().splitlines()
        if len(rows_en) != len(rows_zh):
            found.append(f"the table has {len(rows_en)} lines in English, {len(rows_zh)} here")
        elif [r.count("|") for r in rows_en] != [r.count("|") for r in rows_zh]:
            found.append("the table's rows must keep their number of | separators")
    first, *rest = english.splitlines() or [""]
    if rest and not first.startswith(" ") and all(r.startswith("  ") for r in rest):
        lines = chinese.splitlines()  # a glossary entry: term line, then indented definition
        if (
            len(lines) < 2
            or lines[0].startswith(" ")
            or not all(r.startswith("  ") for r in lines[1:])
        ):
            found.append("a glossary entry keeps its term on the first line, unindented, and its "
                         "definition on the lines below, each indented by two spaces")  # fmt: skip
    if re.match(r"^\s*([-*]|\d+\.)\s", english) and not re.match(r"^\s*([-*]|\d+\.)\s", chinese):
        found.append("a list must start with the same list marker")
    if re.search(r"\b(?:[A-Za-z][\w'-]*[,.;:]?\s+){5,}[A-Za-z]", _untranslatable_stripped(chinese)):
        found.append("six or more English words in a row: is this paragraph translated?")
    return found


def _untranslatable_stripped(text: str) -> str:
    """Text without what stays English (roles, math, code, link addresses)."""
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)
    text = re.sub(r"\$[^$]*\$|`[^`]*`|\]\([^)]*\)", " ", text)
    text = re.sub(r'"[^"]*"|“[^”]*”', " ", text)  # quoted words, e.g. a paper's, may stay English
    return re.sub(r"\*[^*]*\*", " ", text)  # titles of works, set in italics, may stay English


def status(name: str) -> dict[str, int]:
    """A catalog's counts: messages, translated, fuzzy, untranslated, faulty (:func:`problems`)."""
    catalog = read_catalog(catalog_path(name))
    counts = Counter(messages=0, translated=0, fuzzy=0, untranslated=0, faulty=0)
    for message in catalog:
        if not message.id:
            continue
        counts["messages"] += 1
        if message.fuzzy:
            counts["fuzzy"] += 1
        elif not message.string:
            counts["untranslated"] += 1
        else:
            counts["translated"] += 1
            if problems(message.id, message.string):
                counts["faulty"] += 1
    return dict(counts)


def check(path: Path) -> int:
    """Print every faulty, fuzzy or untranslated message of one catalog; the number found."""
    catalog = read_catalog(path)
    bad = 0
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy or not message.string:
            bad += 1
            print(f"{'FUZZY' if message.fuzzy else 'UNTRANSLATED'}: {message.id[:70]!r}")
            continue
        for problem in problems(message.id, message.string):
            bad += 1
            print(f"FAULTY: {message.id[:70]!r}\n  {problem}")
    return bad


def export_yaml(name: str, path: Path) -> int:
    """Write catalog ``name`` as a YAML list of ``{en, zh}`` pairs (block scalars: no escaping)."""
    import yaml

    class Block(str):
        pass

    yaml.SafeDumper.add_representer(
        Block,
        lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|"),
    )
    catalog = read_catalog(catalog_path(name))
    pairs = [
        {"en": Block(m.id), "zh": Block(m.string or ""), **({"fuzzy": True} if m.fuzzy else {})}
        for m in catalog
        if m.id
    ]
    path.write_text(
        yaml.safe_dump(pairs, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8"
    )
    return len(pairs)


def import_yaml(name: str, path: Path) -> int:
    """Set catalog ``name``'s translations from a YAML list of ``{en, zh}`` pairs; the number set.

    A pair whose ``en`` is not a message of the catalog is an error (the English changed, or
    the pair was edited); an empty ``zh`` leaves the message untranslated. Setting a
    translation clears its fuzzy mark unless the pair keeps ``fuzzy: true``.
    """
    import yaml

    pairs = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    catalog = read_catalog(catalog_path(name))
    done = 0
    for pair in pairs:
        english, chinese = pair["en"].rstrip("\n"), (pair.get("zh") or "").rstrip("\n")
        message = catalog.get(english)
        if message is None:
            raise ValueError(f"{path}: not a message of {name}.po: {english[:80]!r}")
        if chinese:
            message.string = chinese
            if not pair.get("fuzzy"):
                message.flags.discard("fuzzy")
            done += 1
    with catalog_path(name).open("wb") as handle:
        write_po(handle, catalog, width=0)
    return done


def main(arguments: list[str]) -> int:
    command = arguments[0] if arguments else "status"
    if command == "extract":
        for path in extract():
            print(path.relative_to(ROOT))
        return 0
    if command == "update":
        update()
        return 0
    if command == "check":
        total = sum(check(Path(name)) for name in arguments[1:])
        print(f"{total} message(s) to fix" if total else "every message is translated and sound")
        return 1 if total else 0
    if command == "export":
        print(f"{export_yaml(arguments[1], Path(arguments[2]))} messages written")
        return 0
    if command == "import":
        print(f"{import_yaml(arguments[1], Path(arguments[2]))} translations set")
        if arguments[1] == PACKAGE_CATALOG:
            print(f"compiled {compile_package_catalog().relative_to(ROOT)}")
        return 0
    if command == "check-yaml":  # a YAML of en/zh pairs, before it is imported
        import yaml

        bad = 0
        for pair in yaml.safe_load(Path(arguments[1]).read_text(encoding="utf-8")) or []:
            found = problems(pair["en"], pair["zh"]) if pair.get("zh") else ["not translated"]
            for problem in found:
                bad += 1
                print(f"{problem}: {pair['en'][:70]!r}")
        print(f"{bad} problem(s)" if bad else "every pair is translated and sound")
        return 1 if bad else 0
    if command == "status":
        names = sorted(p.stem for p in (LOCALES / LANGUAGE / "LC_MESSAGES").glob("*.po"))
        names.append(PACKAGE_CATALOG)
        for name in names:
            print(f"{name:>28}: {status(name)}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
