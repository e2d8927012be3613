"""Gather the built reader notebooks into the folder the workflow publishes as a branch.

"Open in Colab" and Binder open notebooks from a GitHub branch, so the Pages workflow
(.github/workflows/book.yml) pushes this folder to the branch named by ``repository.branch``
in ``_config.yml`` after every push to main. It holds each chapter's reader notebook (made by
_ext/reader_notebooks.py) at the same path as its source on main, a requirements.txt from
which Binder installs lessons_lib, and a README that says what the branch is.

    python tools/reader_branch.py _build/html _build/readers
    python tools/reader_branch.py --print-branch     # the branch's name
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from setup_cell import ROOT, repository_url

READER_KEY = "lessons_reader"  # as in _ext/reader_notebooks.py

README = """\
# Reader notebooks of Attention, Hands-On

Made by the book's build; do not edit. Every chapter's notebook on this branch is the
notebook behind the book's page, for reading in Jupyter, Colab or Binder: the numbers the
page quotes are filled in from the book's own run, and the MyST markup that only the book
renders is plain Markdown. Its code cells are those of `{source}` on the default branch,
where the book's sources live: {url}
"""


def repository_branch(config_path: Path = ROOT / "_config.yml") -> str:
    """The ``repository.branch`` of ``_config.yml``: the branch the launch buttons open."""
    text = config_path.read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+branch:\s*(\S+)", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"{config_path} has no repository.branch")
    return match.group(1)


# The Chinese edition (tools/zh_book.py) is built into the site's zh/ folder; its reader
# notebooks go to zh/ on the branch, where its pages' "Open in Colab" points.
EDITIONS = ("", "zh")


def reader_notebooks(site: Path) -> dict[str, Path]:
    """{path on the branch: its reader notebook in the built site}; each edition's chapters,
    the English ones at their sources' paths, the Chinese ones under ``zh/``."""
    found = {}
    for edition in EDITIONS:
        prefix = f"{edition}/" if edition else ""
        for path in sorted((site / edition / "_sources").rglob("*.ipynb")):
            metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
            if READER_KEY in metadata:
                found[prefix + metadata[READER_KEY]["source"]] = path
    return found


def gather(site: Path, out: Path) -> list[str]:
    """Write the branch's files into ``out`` (emptied first); return the notebooks' paths."""
    notebooks = reader_notebooks(site)
    if not notebooks:
        raise ValueError(f"no reader notebooks under {site / '_sources'}: build the book first")
    if out.exists():
        shutil.rmtree(out)
    for source, path in notebooks.items():
        (out / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, out / source)
    url = repository_url()
    folders = sorted({str(Path(source).parent) for source in notebooks})
    (out / "README.md").write_text(
        README.format(source=", ".join(f"{folder}/" for folder in folders), url=url),
        encoding="utf-8",
    )
    (out / "requirements.txt").write_text(f"lessons_lib @ git+{url}\n", encoding="utf-8")
    return sorted(notebooks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, nargs="?", help="the built book (_build/html)")
    parser.add_argument("out", type=Path, nargs="?", help="the folder to fill (emptied first)")
    parser.add_argument("--print-branch", action="store_true", help="print the branch, stop")
    arguments = parser.parse_args(argv)
    if arguments.print_branch:
        print(repository_branch())
        return 0
    if arguments.site is None or arguments.out is None:
        parser.error("give the built book and the folder to fill")
    written = gather(arguments.site, arguments.out)
    print(f"{len(written)} reader notebooks in {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
