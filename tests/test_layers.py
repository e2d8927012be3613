"""The package's layers: the models import torch and lessons_lib only.

``make lint`` checks every import statically (import-linter, ``.importlinter``).
This test checks it the way a reader meets it: in a Python where tqdm,
scikit-learn, matplotlib and ipywidgets cannot be imported, the models and
decoding still import and run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

BLOCKED = ("tqdm", "sklearn", "matplotlib", "ipywidgets", "IPython")

PROGRAM = textwrap.dedent(
    """
    import importlib.abc
    import sys

    BLOCKED = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    import torch
    import {module}
    {check}
    print("imported", {module!r})
    """
)


@pytest.mark.parametrize(
    ("module", "check"),
    [
        (
            "lessons_lib.transformer",
            "lessons_lib.transformer.Transformer(11, d_model=16, num_heads=2, num_layers=1, "
            "d_ff=32)(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))",
        ),
        ("lessons_lib.vit", "lessons_lib.vit.ViT()(torch.zeros(2, 1, 8, 8))"),
        ("lessons_lib.decoding", "pass"),
    ],
)
def test_models_import_without_tqdm_sklearn_matplotlib_ipywidgets(module, check):
    program = PROGRAM.format(blocked=BLOCKED, module=module, check=check)
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert f"imported {module!r}" in result.stdout or f"imported {module}" in result.stdout


def test_the_blocker_really_blocks():
    """The same program fails for a module that does need a blocked package."""
    program = PROGRAM.format(
        blocked=BLOCKED, module="lessons_lib.experiments.cross_attention", check="pass"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "tqdm is blocked" in result.stderr
