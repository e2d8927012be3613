"""The code a chapter prints with ``inspect.getsource`` is the lesson: the computation only.

Every ``inspect.getsource(<expr>)`` in the chapters' code cells is found, resolved to
the object it prints, and its body is read with ``ast``: no ``raise``, no ``assert``,
and no call into the input checks (the helpers of ``lessons_lib._validate``, or a
function named like a check). The checks run at the public boundary instead, in the
check function that ``@validated(...)`` names on the decorator line.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import textwrap
from pathlib import Path

import pytest
import torch

from lessons_lib._validate import validated
from lessons_lib.residual import AddNorm

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))

# Names that stand for an object a chapter builds rather than imports: (chapter, name) ->
# (module, class). A getsource of a name that is neither imported nor listed here fails.
BUILT_IN_THE_CHAPTER = {("11_vit", "model"): ("lessons_lib.vit", "ViT")}

# Calls named like an input check: a chapter's printed code makes none of them.
CHECK_PREFIXES = ("require_", "_require", "check_", "_check", "_validate", "validate")


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    # IPython's magics and shell lines are not Python: leave them out before parsing
    return [
        "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for source in sources
    ]


def _is_getsource(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "getsource"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "inspect"
    )


def printed_expressions(path: Path) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """The expressions a chapter prints with getsource, and what it imports from lessons_lib."""
    expressions, imported = [], {}
    for source in _code_cells(path):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lessons_lib"):
                for alias in node.names:
                    imported[alias.asname or alias.name] = (node.module, alias.name)
            elif _is_getsource(node):
                assert len(node.args) == 1, f"{path.name}: {ast.unparse(node)}"
                expressions.append(ast.unparse(node.args[0]))
    return expressions, imported


def resolve(chapter: str, expression: str, imported: dict[str, tuple[str, str]]) -> object:
    """The object ``expression`` names in the chapter: an imported name, then attributes."""
    node = ast.parse(expression, mode="eval").body
    attributes = []
    while isinstance(node, ast.Attribute):
        attributes.insert(0, node.attr)
        node = node.value
    assert isinstance(node, ast.Name), (
        f"{chapter}: cannot resolve inspect.getsource({expression}); print a name or an "
        "attribute of one"
    )
    if node.id in imported:
        module, name = imported[node.id]
    elif (chapter, node.id) in BUILT_IN_THE_CHAPTER:
        module, name = BUILT_IN_THE_CHAPTER[chapter, node.id]
    else:
        raise AssertionError(
            f"{chapter}: inspect.getsource({expression}) names {node.id!r}, which the chapter "
            "does not import from lessons_lib; add it to BUILT_IN_THE_CHAPTER in this test"
        )
    target = getattr(importlib.import_module(module), name)
    for attribute in attributes:
        target = getattr(target, attribute)
    return target


def _cases() -> list[tuple[str, str, object]]:
    cases = []
    for path in NOTEBOOKS:
        expressions, imported = printed_expressions(path)
        cases += [(path.stem, expr, resolve(path.stem, expr, imported)) for expr in expressions]
    return cases


CASES = _cases()


def guards_in(target: object) -> list[str]:
    """Each ``raise``, ``assert`` or call of an input check in ``target``'s printed body."""
    function = inspect.unwrap(target)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    namespace = getattr(function, "__globals__", {})
    found = []
    for statement in definition.body:  # the decorator line names the check: it is not the body
        for node in ast.walk(statement):
            if isinstance(node, (ast.Raise, ast.Assert)):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:70]}")
            elif isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                called = namespace.get(name) if isinstance(func, ast.Name) else None
                from_validate = getattr(called, "__module__", "") == "lessons_lib._validate"
                if name.startswith(CHECK_PREFIXES) or from_validate:
                    found.append(f"line {node.lineno}: {ast.unparse(node)[:70]}")
    return found


def test_the_chapters_print_code():
    names = {expression for _, expression, _ in CASES}
    assert len(CASES) >= 30, f"found only {len(CASES)} inspect.getsource calls: {sorted(names)}"
    assert {"softmax", "next_token_probabilities", "PatchEmbedding.forward"} <= names


@pytest.mark.parametrize(
    "chapter, expression, target", CASES, ids=[f"{c}:{e}" for c, e, _ in CASES]
)
def test_printed_code_is_the_computation_without_input_checks(chapter, expression, target):
    assert guards_in(target) == [], (
        f"{chapter} prints inspect.getsource({expression}), which checks its input; move "
        "the checks to the public boundary (@validated(check) on the function)"
    )


def test_guards_in_finds_a_raise_and_a_check_call():
    def guarded(x):
        if x < 0:
            raise ValueError(f"x must be >= 0, got {x}")
        return x

    def checked(x):
        _check_x(x)  # noqa: F821 (never called: only read)
        return x

    def clean(x):
        return x + 1  # (x,)

    assert len(guards_in(guarded)) == 1
    assert len(guards_in(checked)) == 1
    assert guards_in(clean) == []


# --- the decorator that keeps the checks off the printed body --------------------------


def test_validated_passes_the_check_the_arguments_it_names_as_the_call_gave_them():
    seen = []

    def _check_scale(x, factor):
        seen.append((x, factor))
        if factor == 0:
            raise ValueError("factor must not be 0")

    @validated(_check_scale)
    def scale(x, offset=0.0, factor=2.0, *, label="scaled"):
        return (x + offset) * factor

    assert scale(1.0) == 2.0  # the default factor, read from scale's own signature
    assert scale(1.0, 1.0, 3.0) == 6.0  # by place
    assert scale(factor=5.0, x=1.0) == 5.0  # by name
    assert seen == [(1.0, 2.0), (1.0, 3.0), (1.0, 5.0)]
    with pytest.raises(ValueError, match="factor must not be 0"):
        scale(1.0, factor=0)
    assert scale.__name__ == "scale" and inspect.unwrap(scale).__name__ == "scale"


def test_validated_leaves_a_call_with_a_missing_argument_to_python():
    calls = []

    @validated(lambda x: calls.append(x))
    def double(x):
        return 2 * x

    with pytest.raises(TypeError, match=r"double\(\) missing 1 required positional argument"):
        double()
    assert calls == []  # the check never saw a stand-in for the missing argument


def test_validated_refuses_a_check_that_reads_an_argument_the_function_lacks():
    def _check_y(y):
        pass

    with pytest.raises(TypeError, match=r"_check_y reads \['y'\], which identity does not take"):

        @validated(_check_y)
        def identity(x):
            return x


def test_a_forward_called_directly_is_checked_too():
    layer = AddNorm(4)
    x = torch.randn(2, 3, 4)
    assert torch.equal(layer(x, x), layer.forward(x, x))  # forward called directly: checked too
    with pytest.raises(ValueError, match="must have the same shape"):
        layer.forward(x, x[:, :2])
