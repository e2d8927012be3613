"""Export the pages' live models to ONNX, check them with onnxruntime, and cache them.

    python tools/export_live_models.py [--folder _build/live] [--force]

The readers of ``lessons_lib/live.py`` (``DateReader`` over the shipped date model,
``DigitReader`` over the shipped digit ViT, ``lessons_lib/pretrained.py``) are exported with
the dynamo exporter, ``torch.onnx.export(..., dynamo=True)`` at its default opset, into
``FOLDER/date_model.onnx`` (input ``source``; outputs ``answer``, ``probability``, ``cross``)
and ``FOLDER/digit_vit.onnx`` (input ``image``; outputs ``probability``, ``rollout``). The
exporter's per-node metadata (stack traces naming this machine's paths) is dropped and the
weight copies that each unrolled decoding step gets are shared, which makes the date model
about eight times smaller. Each file is accepted only when onnxruntime (Python) gives torch's
answers on a few inputs (:data:`CHECK_TOLERANCE`); otherwise nothing is written.

The export is skipped when its inputs are unchanged: ``FOLDER/manifest.json`` holds a hash
(:func:`inputs_key`) of the weights (``lessons_lib/weights/``), of ``lessons_lib/live.py`` and
every ``lessons_lib`` module it and ``lessons_lib/pretrained.py`` import, of this script, and of
the versions of torch, onnx, onnxscript and onnxruntime. Checking the cache imports neither torch
nor lessons_lib, so the book's Sphinx process calls :func:`cached_exports` and runs this script
in a child process only when they changed (``_ext/lessons_book/live.py``).

``onnx``, ``onnxscript`` and ``onnxruntime`` are build requirements (requirements.txt), not
dependencies of the package.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lessons_lib"
WEIGHTS = PACKAGE / "weights"
CACHE = ROOT / "_build" / "live"
MANIFEST = "manifest.json"
# The modules whose code the readers run (with everything they import from lessons_lib).
ROOTS = ("live", "pretrained")
VERSIONS = ("torch", "onnx", "onnxscript", "onnx_ir", "onnxruntime")
# The files, their inputs and outputs: what the page asks for (notes: live_contract.md).
NAMES = {
    "date_model": (["source"], ["answer", "probability", "cross"]),
    "digit_vit": (["image"], ["probability", "rollout"]),
}
CHECK_TOLERANCE = 1e-4  # largest |onnxruntime - torch| accepted on a probability or a weight
# Inputs outside the date model's formats (the ones the page suggests are of this kind).
ODD_DATES = ("2026-11-27", "Nov 27 2026", "1", "Wednesday, September 30th 2026", "   ")


# --- the cache key: torch-free ---------------------------------------------------------


def _imported_modules(module: str) -> set[str]:
    """``lessons_lib`` modules that ``lessons_lib/<module>.py`` imports, by name (``attention``)."""
    path = PACKAGE / f"{module.replace('.', '/')}.py"
    if not path.is_file():
        return set()
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            if name.startswith("lessons_lib."):
                inner = name.removeprefix("lessons_lib.")
                if (PACKAGE / f"{inner.replace('.', '/')}.py").is_file():
                    found.add(inner)
    return found


def source_files() -> list[Path]:
    """``lessons_lib/live.py``, ``pretrained.py`` and every lessons_lib module they import."""
    seen: set[str] = set()
    todo = list(ROOTS)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imported_modules(module) - seen)
    paths = (PACKAGE / f"{module.replace('.', '/')}.py" for module in seen)
    return sorted(path for path in paths if path.is_file())


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def inputs_key(extra: bytes = b"") -> str:
    """A hash of everything the exported files depend on (``extra``: models given by hand)."""
    hasher = hashlib.sha256()
    weights = sorted(WEIGHTS.rglob("*")) if WEIGHTS.is_dir() else []
    named = [(path, path.relative_to(ROOT)) for path in [*source_files(), Path(__file__).resolve()]]
    named += [(path, Path("weights") / path.relative_to(WEIGHTS)) for path in weights]
    for path, name in named:
        if path.is_file() and "__pycache__" not in path.parts:
            hasher.update(name.as_posix().encode() + b"\0")
            hasher.update(path.read_bytes() + b"\0")
    for distribution in VERSIONS:
        hasher.update(f"{distribution}=={_version(distribution)}\0".encode())
    hasher.update(extra)
    return hasher.hexdigest()


def cached_exports(folder: Path = CACHE, key: str | None = None) -> dict[str, Path] | None:
    """The exported files in ``folder`` if they are current (``key``: :func:`inputs_key`)."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = {name: folder / f"{name}.onnx" for name in NAMES}
    current = manifest.get("key") == (inputs_key() if key is None else key)
    if not current or not all(path.is_file() for path in files.values()):
        return None
    for name, path in files.items():  # a file changed by hand is not current either
        if _sha256(path) != manifest.get("files", {}).get(name, {}).get("sha256"):
            return None
    return files


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- export and check: torch from here on --------------------------------------------


def _state_bytes(*models: Any) -> bytes:
    """The weights and sizes of models given by hand, for the cache key."""
    hasher = hashlib.sha256()
    for model in models:
        hasher.update(f"{type(model).__name__}\0".encode())
        for name, tensor in sorted(model.state_dict().items()):
            hasher.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}\0".encode())
            hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest().encode()


def readers(date_model: Any = None, digit_vit: Any = None) -> dict[str, Any]:
    """``{"date_model": DateReader, "digit_vit": DigitReader}`` over these models (default: the
    shipped ones, ``lessons_lib.pretrained``)."""
    from lessons_lib.data import DateTask
    from lessons_lib.live import DateReader, DigitReader

    if date_model is None or digit_vit is None:
        from lessons_lib.pretrained import load_date_model, load_digit_vit

        date_model = load_date_model() if date_model is None else date_model
        digit_vit = load_digit_vit() if digit_vit is None else digit_vit
    return {"date_model": DateReader(date_model, DateTask()), "digit_vit": DigitReader(digit_vit)}


def check_inputs(name: str, reader: Any) -> list[Any]:
    """A few inputs for the check: test dates in every format and odd strings; test digits,
    a blank and a full image. Each a batch of one, the page's shape."""
    import torch

    from lessons_lib.data import DateTask, load_digits_split

    if name == "date_model":
        task = DateTask()
        batch = task.sample(12, torch.Generator().manual_seed(0), "test")
        odd, _ = task.encode(list(ODD_DATES), reader.source_length)  # (5, 30)
        return list(torch.cat([batch.sources, odd]).split(1))  # each (1, 30)
    _, _, test = load_digits_split()
    side = reader.model.image_size
    images = torch.cat(
        [test.images[:12], torch.zeros(1, 1, side, side), torch.ones(1, 1, side, side)]
    )
    return list(images.split(1))  # each (1, 1, 8, 8)


def _export(reader: Any, example: Any, name: str, path: Path) -> None:
    """``torch.onnx.export(..., dynamo=True)``, without metadata and with shared weights."""
    import logging
    import warnings

    import onnx_ir
    import torch
    from onnx_ir.passes import common

    inputs, outputs = NAMES[name]
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # "torchvision is not installed" and the like
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation notes (torch 2.13)
            program = torch.onnx.export(
                reader,
                (example,),
                dynamo=True,
                input_names=inputs,
                output_names=outputs,
                verbose=False,
            )
    finally:
        exporter_log.setLevel(level)
    model = program.model
    for step in (
        common.ClearMetadataAndDocStringPass(),  # stack traces with this machine's paths
        # each unrolled decoding step holds its own transposed copy of the weights: share them
        common.DeduplicateInitializersPass(size_limit=1 << 24),
        common.RemoveUnusedNodesPass(),
    ):
        model = step(model).model
    onnx_ir.save(model, path)


def check_export(name: str, path: Path, reader: Any, inputs: list[Any]) -> dict[str, float]:
    """Run ``path`` with onnxruntime (Python) on ``inputs`` against ``reader`` (torch).

    Raises a RuntimeError unless the names are the page's, every date's answer is torch's and
    every probability and weight is within :data:`CHECK_TOLERANCE`; returns the largest
    difference of each output.
    """
    import numpy as np
    import onnxruntime
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # as the page runs it; a tiny model gains nothing from more
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs_named = [item.name for item in session.get_inputs()]
    outputs_named = [item.name for item in session.get_outputs()]
    if (inputs_named, outputs_named) != NAMES[name]:
        raise RuntimeError(
            f"{path.name} has inputs {inputs_named} and outputs {outputs_named}; "
            f"the page expects {NAMES[name]}"
        )
    worst = dict.fromkeys(outputs_named, 0.0)
    for example in inputs:
        with torch.no_grad():
            expected = [tensor.numpy() for tensor in reader(example)]
        got = session.run(None, {inputs_named[0]: example.numpy()})
        for output, want, have in zip(outputs_named, expected, got):
            if want.shape != have.shape:
                raise RuntimeError(
                    f"{path.name}: {output} has shape {have.shape}, torch's {want.shape}"
                )
            if want.dtype.kind == "i":  # the answer: the same tokens, exactly
                if not np.array_equal(want, have):
                    raise RuntimeError(
                        f"{path.name}: onnxruntime answered {have.tolist()} where torch "
                        f"answered {want.tolist()} (input {example.tolist()})"
                    )
                continue
            worst[output] = max(worst[output], float(np.abs(want - have).max()))
    for output, difference in worst.items():
        if difference > CHECK_TOLERANCE:
            raise RuntimeError(
                f"{path.name}: onnxruntime's {output} differs from torch's by {difference:.2e}, "
                f"more than {CHECK_TOLERANCE:.0e}"
            )
    return worst


def export_live_models(
    folder: Path = CACHE,
    *,
    date_model: Any = None,
    digit_vit: Any = None,
    force: bool = False,
    log: Any = print,
) -> dict[str, Path]:
    """Export, check and cache both live models; ``{name: path of its .onnx}``.

    Without models, the shipped ones (``lessons_lib.pretrained``); with models given by hand
    (freshly built ones, say), their weights join the cache key. Nothing is exported when
    ``folder`` already holds files of the same key, unless ``force``.
    """
    folder = Path(folder)
    given = [model for model in (date_model, digit_vit) if model is not None]
    key = inputs_key(_state_bytes(*given) if given else b"")
    if not force:
        cached = cached_exports(folder, key)
        if cached is not None:
            return cached
    import torch

    made = readers(date_model, digit_vit)
    record: dict[str, Any] = {"key": key, "files": {}}
    folder.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: on a busy machine a second thread only costs time
    try:
        _export_into(folder, made, record, log)
    finally:
        torch.set_num_threads(threads)
    (folder / MANIFEST).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return {name: folder / f"{name}.onnx" for name in made}


def _export_into(folder: Path, made: dict[str, Any], record: dict[str, Any], log: Any) -> None:
    """Export and check each reader in a scratch folder; move the files in when all passed."""
    import torch

    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        for name, reader in made.items():
            inputs = check_inputs(name, reader)
            path = Path(scratch) / f"{name}.onnx"
            began = time.perf_counter()
            with torch.no_grad():
                _export(reader, inputs[0], name, path)
            seconds = time.perf_counter() - began
            worst = check_export(name, path, reader, inputs)
            record["files"][name] = {
                "bytes": path.stat().st_size,
                "sha256": _sha256(path),
                "export_seconds": round(seconds, 2),
                "checked_inputs": len(inputs),
                "largest_difference": worst,
            }
            log(
                f"export_live_models: {name}.onnx, {path.stat().st_size / 1024:.0f} KiB, "
                f"exported in {seconds:.1f} s; onnxruntime matches torch on {len(inputs)} inputs "
                f"(largest difference {max(worst.values()):.1e})"
            )
        (folder / MANIFEST).unlink(missing_ok=True)  # not current while the files change
        for name in made:
            shutil.move(Path(scratch) / f"{name}.onnx", folder / f"{name}.onnx")


def start_export() -> subprocess.Popen | None:
    """Start this script in a child process if the cache is out of date (``None`` if current):
    ``tools/build_book.py`` runs it beside the chapters' execution, so the two share the cores."""
    if cached_exports() is not None:
        return None
    print("export_live_models: exporting the live models beside the execution", flush=True)
    command = [sys.executable, str(Path(__file__).resolve())]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish_export(child: subprocess.Popen | None) -> int:
    """Wait for :func:`start_export`'s child; 0 when it succeeded (or none was needed)."""
    if child is None:
        return 0
    output = child.communicate()[0].decode(errors="replace").splitlines()
    if child.returncode != 0:
        print("export_live_models: tools/export_live_models.py failed; its last lines:")
        print(*output[-20:], sep="\n")
        return 1
    print(*(line for line in output if line.startswith("export_live_models:")), sep="\n")
    return 0


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--folder", type=Path, default=CACHE, help="the cache (default: %(default)s)"
    )
    parser.add_argument("--force", action="store_true", help="export even when nothing changed")
    options = parser.parse_args(arguments)
    if not options.force and cached_exports(options.folder) is not None:
        print(f"export_live_models: {options.folder} is current")
        return 0
    export_live_models(options.folder, force=options.force)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
