"""Build the book: execute the chapters with jupyter-cache, then render them with Jupyter Book.

    python tools/build_book.py [--force] [jupyter-book build options, e.g. -W -n]

1. Execute: jupyter-cache's ``temp-parallel`` executor (one process per core) runs the chapters
   whose code changed into ``_build/.jupyter_cache`` (``--force`` empties it first), beside the
   live models' ONNX export when that is out of date (``tools/export_live_models.py``).
2. Render: ``jupyter-book build`` reads the outputs from that cache, executing nothing, beside
   ``tools/zh_book.py render``, which does the same for the Chinese edition (``_build/html/zh``)
   in a child process started at the outset, so that it loads its libraries during step 1.

jupyter-cache sees edited code cells only, so a change to ``EXECUTION_INPUTS`` (lessons_lib, the
environment) empties its cache, and one to ``SITE_INPUTS`` re-reads every page (``--all``).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import yaml
from jupyter_cache import get_cache

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_live_models
import zh_book
from inputs_hash import digest

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / "_build" / ".book-inputs.json"
PROFILE = "tools/ipython_build_profile/profile_default/ipython_kernel_config.py"
EXECUTION_INPUTS = ["lessons_lib", "pyproject.toml", "requirements.txt", PROFILE]
EXECUTION_ENV = ["LESSONS_STATIC_WIDGETS", "PYTHONHASHSEED", "OMP_NUM_THREADS", "IPYTHONDIR"]
SITE_INPUTS = ["_ext", "tools/build_book.py", "tools/vendor/package-lock.json", *zh_book.INPUTS]


def execute(chapters: list[Path], folder: Path, timeout: int, force: bool = False) -> int:
    """Run the chapters that have no current outputs in the cache at ``folder``; 0 if all ran."""
    if force:
        shutil.rmtree(folder, ignore_errors=True)
    cache = get_cache(str(folder))
    for gone in [r for r in cache.list_project_records() if not Path(r.uri).is_file()]:
        cache.remove_nb_from_project(gone.pk)  # a chapter that was deleted or renamed
    for chapter in chapters:
        cache.add_nb_to_project(str(chapter))
    if not cache.list_unexecuted():
        return 0  # every chapter's outputs are current (and the executor's imports cost 1 s)
    from jupyter_cache.executors import load_executor

    logger = logging.getLogger("build_book")
    if not logger.handlers:  # its own handler, not the root's: other packages' INFO stays quiet
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("build_book: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    executor = load_executor("temp-parallel", cache=cache, logger=logger)
    result = executor.run_and_cache(timeout=timeout, allow_errors=False)
    for uri in [*result.excepted, *result.errored]:
        print(f"build_book: {uri} failed:\n{cache.get_project_record(uri).traceback}")
    return 1 if result.excepted or result.errored else 0


def build(arguments: list[str]) -> int:
    force = "--force" in arguments
    arguments = [argument for argument in arguments if argument != "--force"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["execute"]
    execution, site = digest(ROOT, EXECUTION_INPUTS, EXECUTION_ENV), digest(ROOT, SITE_INPUTS)
    now = {"execution": execution, "site": site}
    before = json.loads(STATE.read_text()) if STATE.is_file() else {}
    STATE.unlink(missing_ok=True)  # written again only when this build succeeds
    force = force or before.get("execution") != now["execution"]
    if (force or before != now) and "--all" not in arguments:
        arguments.append("--all")  # outputs or rendering changed: read every page again
    chapters = sorted((ROOT / "book").glob("*.ipynb"), reverse=True)  # heavier later ones first
    chinese = zh_book.start_build(arguments)  # loads its libraries while the chapters run
    export = export_live_models.start_export()
    failed = execute(chapters, ROOT / config["cache"], config["timeout"], force)
    failed = export_live_models.finish_export(export) or failed
    zh_book.go_on(chinese, go=not failed)  # the Chinese site beside the English: a core each
    if failed:
        chinese.communicate()  # it stops without rendering
        return 1
    english = zh_book.render(ROOT, arguments)
    if zh_book.finish_build(chinese) or english:
        return 1
    STATE.write_text(json.dumps(now, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(build(sys.argv[1:]))
