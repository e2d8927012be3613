"""The standard first code cell of every chapter, and a command that writes it in.

Every notebook in ``book/`` starts with the same setup cell: it installs
``lessons_lib`` from the repository when it is missing (Colab), and seeds
torch and numpy. The repository address comes from ``_config.yml``, the one
place it lives. Run ``python tools/setup_cell.py`` after changing either.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = """\
# Setup, the same in every chapter: installs lessons_lib if missing (Colab).
try:
    import lessons_lib
except ImportError:
    import subprocess
    import sys

    package = "git+{url}"
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    pip.append("--disable-pip-version-check")  # no "new release" notice
    subprocess.check_call([*pip, package])
    import lessons_lib
import numpy as np
import torch

torch.manual_seed(0)  # seeded, so every run prints the same numbers
np.random.seed(0)"""


def repository_url(config_path: Path = ROOT / "_config.yml") -> str:
    """The ``repository.url`` of ``_config.yml`` (read without a YAML library)."""
    text = config_path.read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"{config_path} has no repository.url")
    return match.group(1)


def setup_cell_source(url: str | None = None) -> str:
    """The setup cell's code for the repository at ``url``."""
    return TEMPLATE.format(url=url or repository_url())


def first_code_cell(notebook: dict) -> dict | None:
    """The first code cell of a notebook (as parsed JSON), or None."""
    return next((cell for cell in notebook["cells"] if cell["cell_type"] == "code"), None)


def sync(path: Path) -> bool:
    """Make the first code cell of ``path`` the setup cell; True if it changed."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = first_code_cell(notebook)
    source = setup_cell_source()
    if cell is not None and "".join(cell["source"]) == source:
        return False
    lines = source.splitlines(keepends=True)
    if cell is not None and "# Setup" in "".join(cell["source"]):
        cell["source"] = lines
    else:
        new = {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": lines,
        }
        notebook["cells"].insert(1, new)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


if __name__ == "__main__":
    changed = [path for path in sorted((ROOT / "book").glob("*.ipynb")) if sync(path)]
    print("\n".join(f"updated {path.relative_to(ROOT)}" for path in changed) or "all up to date")
    sys.exit(0)
