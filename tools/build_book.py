"""Build the book: execute the chapters with jupyter-cache, then render them with Jupyter Book.

    python tools/build_book.py [--force] [jupyter-book build options, e.g. -W -n]

1. Execute. jupyter-cache's parallel executor (``temp-parallel``: one process per core, each
   chapter in a fresh temporary folder) runs the chapters whose code cells changed since they
   last ran, into its cache (``_build/.jupyter_cache``). ``--force`` (the strict build of
   ``make test``) empties the cache first. A failing chapter stops the build with its traceback.
2. Render. ``jupyter-book build`` takes every chapter's outputs from that cache
   (``execute_notebooks: cache`` in ``_config.yml``), so Sphinx executes nothing itself.
3. Beside step 2, on the other core, ``tools/zh_book.py render`` writes the Chinese notebooks
   (outputs from that cache, prose from ``locales/zh_CN``) and renders them, executing nothing;
   the site is then copied into ``_build/html/zh``.

When the live models' ONNX export is out of date (a clean build, or new weights), its child
process (``tools/export_live_models.py``, which the book's Sphinx extension would otherwise run
before rendering) starts beside the execution, so that the two share the cores; rendering waits
for it and finds the export in its cache.

jupyter-cache notices an edited code cell, not a change to ``lessons_lib`` or to the
environment, so this script keeps a hash of those (``EXECUTION_INPUTS``) and empties the
cache when it changes. A change to what turns pages into HTML (``SITE_INPUTS``) makes
Jupyter Book read every page again (``--all``), from the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from jupyter_cache import get_cache

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_live_models
import zh_book

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "_build" / ".book-inputs.json"
PROFILE = "tools/ipython_build_profile/profile_default/ipython_kernel_config.py"
EXECUTION_INPUTS = ["lessons_lib", "pyproject.toml", "requirements.txt", PROFILE]
EXECUTION_ENV = ["LESSONS_STATIC_WIDGETS", "PYTHONHASHSEED", "OMP_NUM_THREADS", "IPYTHONDIR"]
SITE_INPUTS = ["_ext", "tools/build_book.py", "tools/vendor/package-lock.json", *zh_book.INPUTS]


def digest(paths: list[str], environment: list[str] = ()) -> str:
    """One hash of these files' names and contents (and of these environment variables)."""
    hasher = hashlib.sha256()
    for name in paths:
        path = ROOT / name
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                hasher.update(file.relative_to(ROOT).as_posix().encode() + b"\0")
                hasher.update(file.read_bytes() + b"\0")
    for name in environment:
        hasher.update(f"{name}={os.environ.get(name, '')}\0".encode())
    return hasher.hexdigest()


def execute(chapters: list[Path], folder: Path, timeout: int, force: bool = False) -> int:
    """Run the chapters that have no current outputs in the cache at ``folder``; 0 if all ran."""
    if force:
        shutil.rmtree(folder, ignore_errors=True)
    cache = get_cache(str(folder))
    for record in cache.list_project_records():
        if not Path(record.uri).is_file():
            cache.remove_nb_from_project(record.pk)
    for chapter in chapters:
        cache.add_nb_to_project(str(chapter))
    if not cache.list_unexecuted():
        return 0  # every chapter's outputs are current (and the executor's imports cost 1 s)
    from jupyter_cache.executors import load_executor

    logging.basicConfig(level=logging.INFO, format="build_book: %(message)s")
    executor = load_executor("temp-parallel", cache=cache, logger=logging.getLogger("build_book"))
    result = executor.run_and_cache(timeout=timeout, allow_errors=False)
    for uri in [*result.excepted, *result.errored]:
        print(f"build_book: {uri} failed:\n{cache.get_project_record(uri).traceback}")
    return 1 if result.excepted or result.errored else 0


def start_export() -> subprocess.Popen | None:
    """Start the live models' ONNX export in a child process if its cache is out of date."""
    if export_live_models.cached_exports() is not None:
        return None
    print("build_book: exporting the live models to ONNX beside the execution", flush=True)
    command = [sys.executable, str(ROOT / "tools" / "export_live_models.py")]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish_export(export: subprocess.Popen | None) -> int:
    """Wait for :func:`start_export`'s child; 0 when it succeeded (or none was needed)."""
    if export is None:
        return 0
    output = export.communicate()[0].decode(errors="replace").splitlines()
    if export.returncode != 0:
        print("build_book: tools/export_live_models.py failed; its last lines:")
        print(*output[-20:], sep="\n")
        return 1
    print(*(line for line in output if line.startswith("export_live_models:")), sep="\n")
    return 0


def build(arguments: list[str]) -> int:
    force = "--force" in arguments
    arguments = [argument for argument in arguments if argument != "--force"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    now = {"execution": digest(EXECUTION_INPUTS, EXECUTION_ENV)}
    now["site"] = digest(SITE_INPUTS)
    before = json.loads(STATE.read_text()) if STATE.is_file() else {}
    STATE.unlink(missing_ok=True)  # written again only when this build succeeds
    force = force or before.get("execution") != now["execution"]
    if (force or before != now) and "--all" not in arguments:
        arguments.append("--all")  # outputs or rendering changed: read every page again
    chapters = sorted((ROOT / "book").glob("*.ipynb"), reverse=True)  # heavier later ones first
    export = start_export()
    cache, timeout = ROOT / config["execute"]["cache"], config["execute"]["timeout"]
    failed = execute(chapters, cache, timeout, force)
    if finish_export(export) or failed:
        return 1
    chinese = zh_book.start_build(arguments)  # the Chinese site beside the English: a core each
    english = zh_book.render(ROOT, arguments)
    if zh_book.finish_build(chinese) or english:
        return 1
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(now, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(build(sys.argv[1:]))
