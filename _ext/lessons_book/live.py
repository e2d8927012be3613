"""The live models in the page: their ONNX files and onnxruntime-web's wasm runtime in ``_static``.

Chapters 06 and 11 let the reader try the shipped date model and digit ViT in the static page
(``lessons_lib/widgets/live_static.py``), which, on first use, imports onnxruntime-web from
``_static/ort/`` and fetches the model from ``_static/live/``:

- ``prepare_live_models`` (``builder-inited``) fails at once, with the fix, when the pinned
  onnxruntime-web of ``tools/vendor`` is not installed, and exports the models when their
  inputs changed: ``tools/export_live_models.py`` runs in a child process (so that this
  process never imports torch), and its cache, ``_build/live/``, makes it a hash check
  otherwise;
- ``copy_live_models`` (``build-finished``) copies ``date_model.onnx`` and ``digit_vit.onnx``
  into ``_static/live/`` and the wasm backend's three files (:data:`ORT_FILES`: the module,
  its loader and the wasm, about 15 MB; nothing else of the package) into ``_static/ort/``.

The Chinese edition is a second build with this extension (``tools/zh_book.py``), so it gets
the same files under ``zh/_static/``; the cache makes its export a hash check.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
EXPORTER = ROOT / "tools" / "export_live_models.py"
ORT_SOURCE = ROOT / "tools" / "vendor" / "node_modules" / "onnxruntime-web" / "dist"
# The wasm backend alone: ort.wasm.min.mjs imports the loader, which fetches the wasm.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
ORT_TARGET = Path("_static") / "ort"
MODELS_TARGET = Path("_static") / "live"

logger = logging.getLogger(__name__)


def exporter() -> ModuleType:
    """``tools/export_live_models.py`` as a module (importing it imports no torch)."""
    name = "lessons_export_live_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXPORTER)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def check_runtime_installed(source: Path = ORT_SOURCE) -> None:
    """Fail, with the fix, when onnxruntime-web's wasm files are not installed."""
    missing = [name for name in ORT_FILES if not (source / name).is_file()]
    if missing:
        raise ExtensionError(
            f"onnxruntime-web is not installed ({', '.join(missing)} missing in {source}): "
            "run `make setup` (or `npm ci --prefix tools/vendor`) before building the book"
        )


def exported_models(folder: Path | None = None) -> dict[str, Path]:
    """The current exports in ``folder`` (default ``_build/live``), exporting them if needed.

    The export runs as ``python tools/export_live_models.py --folder FOLDER`` in a child
    process; its output is shown only when it fails.
    """
    tool = exporter()
    folder = tool.CACHE if folder is None else Path(folder)
    files = tool.cached_exports(folder)
    if files is not None:
        return files
    logger.info("exporting the live models to ONNX (tools/export_live_models.py)...")
    completed = subprocess.run(
        [sys.executable, str(EXPORTER), "--folder", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        raise ExtensionError(
            "tools/export_live_models.py failed; its last lines:\n  " + "\n  ".join(output[-20:])
        )
    for line in completed.stdout.splitlines():
        if line.startswith("export_live_models:"):
            logger.info(line)
    files = tool.cached_exports(folder)
    if files is None:
        raise ExtensionError(f"tools/export_live_models.py left no current export in {folder}")
    return files


def prepare_live_models(app: Sphinx) -> None:
    """``builder-inited``: the runtime is installed and the models are exported (or cached)."""
    if app.builder.format != "html":
        return
    check_runtime_installed()
    exported_models()


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` unless an identical copy (size and time) is there."""
    stat = source.stat()
    if target.is_file():
        there = target.stat()
        if (there.st_size, int(there.st_mtime)) == (stat.st_size, int(stat.st_mtime)):
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def copy_live_files(outdir: Path, models: dict[str, Path], runtime: Path = ORT_SOURCE) -> None:
    """The models into ``outdir/_static/live/``, the wasm runtime into ``outdir/_static/ort/``."""
    check_runtime_installed(runtime)
    for path in models.values():
        _copy(path, outdir / MODELS_TARGET / path.name)
    for name in ORT_FILES:
        _copy(runtime / name, outdir / ORT_TARGET / name)


def copy_live_models(app: Sphinx, exception: Exception | None) -> None:
    """``build-finished``: the live models and the runtime into this site's ``_static``."""
    if exception is not None or app.builder.format != "html":
        return
    copy_live_files(Path(app.outdir), exported_models())
