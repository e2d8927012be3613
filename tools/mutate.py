"""Mutation testing of lessons_lib's concept modules: plant small bugs, see whether tests fail.

    python tools/mutate.py                      # every concept module, with its unit tests
    python tools/mutate.py softmax masking      # some modules
    python tools/mutate.py softmax --list       # the mutants only, nothing run
    python tools/mutate.py --jobs 2 --fail-under 95 --json _build/mutation.json

Each mutant is one small change to one module, of the kinds of slips a person makes:

- an arithmetic operator swapped (``+``/``-``, ``*``/``/``, ``//``/``/``, ``**``/``*``, ...);
- a comparison flipped at its boundary (``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ...);
- a number off by one (``n`` -> ``n + 1``; a float doubled), a ``True``/``False`` swapped;
- ``and``/``or`` swapped, a ``not`` or a unary minus dropped;
- a call swapped for its partner (``tril``/``triu``, ``max``/``min``, ``sum``/``mean``, ...);
- a statement dropped (a call, an in-place update, an assignment into an attribute or an
  element, a ``raise``).

Strings, f-strings, docstrings, type annotations, decorators and the messages of ``raise``
are left alone, as is any line holding ``# pragma: no mutate``. For each mutant the module
is rewritten in a private copy of the package and its unit tests (:data:`TESTS`) run there,
stopping at the first failure; the mutant is *killed* when a test fails (or the run passes
its time limit, three times the unmutated run), and *survives* when every test passes. The
score is killed / (mutants - known equivalents); :data:`EQUIVALENT` lists the survivors that
no test can kill, each with why. The tests run in forked children of one process that has
already imported torch and pytest, so a mutant costs its tests, not the imports.

The modules are read from the working tree when the run starts. A module takes about as
many seconds per mutant as its tests take (``--list`` counts the mutants); every module
together is some 1,500 mutants, hours on two cores, so ``make mutate`` is not part of
``make test``. Uses only the standard library, pytest and the project's own tests; POSIX
only (fork).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lessons_lib"

# The concept modules (layers ops, modules, models, decoding, data, metrics, training) and
# the unit tests that cover each. A module's tests are run as a whole for each mutant.
TESTS: dict[str, list[str]] = {
    "softmax": ["tests/test_softmax.py", "tests/test_ops_boundaries.py"],
    "masking": ["tests/test_masking.py", "tests/test_ops_boundaries.py"],
    "attention": ["tests/test_mutants_attention.py", "tests/test_attention.py"],
    "residual": ["tests/test_mutants_residual.py", "tests/test_residual.py"],
    "positions": [
        "tests/test_mutants_positions.py",
        "tests/test_positions.py",
        "tests/test_position_codes.py",
    ],
    "patching": ["tests/test_mutants_patching.py", "tests/test_patching.py"],
    "transformer": ["tests/test_mutants_transformer.py", "tests/test_transformer.py"],
    "vit": ["tests/test_mutants_vit.py", "tests/test_vit.py"],
    "decoding": ["tests/test_mutants_decoding.py", "tests/test_decoding.py"],
    "data": [
        "tests/test_mutants_data.py",
        "tests/test_data.py",
        "tests/test_data_images.py",
        "tests/test_date_formats_boundaries.py",
    ],
    "metrics": [
        "tests/test_mutants_metrics.py",
        "tests/test_metrics.py",
        "tests/test_fit_boundaries.py",
    ],
    "training": ["tests/test_training.py", "tests/test_fit_boundaries.py"],
}
# Tests that check every module's answers to bad input; --bad-input adds them to each run.
BAD_INPUT_TESTS = ["tests/test_bad_input.py"]

# Survivors that no test can kill: the mutant computes the same thing. Keyed by the
# mutant's key (module::function::what changed), each with the reason.
EQUIVALENT: dict[str, str] = {
    "metrics::classification_accuracy::`-1` -> `1`": (
        "a classifier's logits are (batch, classes), so axis 1 is the last axis: "
        "argmax(1) and argmax(-1) pick the same class"
    ),
    "attention::attention_scores::`0` -> `1`": (
        "scaling only when d_k > 1 instead of d_k > 0 differs at d_k = 1 alone, where the "
        "scale is 1 / sqrt(1) = 1: dividing by it changes nothing"
    ),
    "vit::ViT._check_images::`-2` -> `2`": (
        "the line before checks that images have exactly 4 dimensions, so shape[2:] and "
        "shape[-2:] are the same (height, width)"
    ),
    "vit::ViT.embed::`-1` -> `1`": (
        "the class token is (1, 1, d_model): expanding its middle axis to 1 or keeping it "
        "(-1) gives the same (batch, 1, d_model)"
    ),
    "vit::attention_rollout::`1` -> `2`": (
        "the identity's size becomes maps.shape[-2] instead of maps.shape[-1]; "
        "_check_attention_rollout, which @validated runs first, refuses maps that are not "
        "square, so the two are the same T"
    ),
    "data::ReversalTask.is_held_out::`-1` -> `1`": (
        "sources are (batch, length), as every caller passes them, so axis 1 is the last "
        "axis: sum(dim=1) and sum(dim=-1) add up the same digits"
    ),
    "data::ordinal_suffix::`13` -> `14`": (
        "the `th` rule then also covers days ending in 14, whose last digit 4 is not in the "
        "st/nd/rd table, so they get `th` from the default anyway"
    ),
    "data::DateTask.decode::`0 <= token < len(names)` -> `0 < token < len(names)`": (
        "the two differ at token 0 alone, which is pad (__post_init__ insists on 0): decode "
        "stops at it before the range check is reached"
    ),
    "data::DateTask.decode::`0` -> `1`": (
        "1 <= token instead of 0 <= token differs at token 0 alone, which is pad: decode "
        "stops at it before the range check is reached"
    ),
    "data::_digits_arrays::`1` -> `2` #2": (
        "reshape(-2, 8, 8) instead of reshape(-1, 8, 8): NumPy reads any negative size as "
        "'infer this one', so both give (1797, 8, 8)"
    ),
    "data::load_sample_photo::`2` -> `3` #2": (
        "top = (height - side) // 3 instead of // 2: both photos that may be named are "
        "427x640, so side = height and top = 0 / 3 = 0 / 2 = 0"
    ),
    "data::MarkPositionTask.__post_init__::`self.image_size // self.patch_size` -> "
    "`self.image_size / self.patch_size`": (
        "grid is only tested for evenness after the `or` has refused an image_size that "
        "patch_size does not divide, so image_size / patch_size is a whole number, even or "
        "odd as image_size // patch_size is"
    ),
    "data::MarkPositionTask.mark::`self.patch_size > 2` -> `self.patch_size >= 2`": (
        "at patch_size 2 the interior mark[1:-1, 1:-1] is empty, so zeroing it changes "
        "nothing: the 2x2 mark stays solid either way"
    ),
    "data::MarkPositionTask.sample::`grid // 2` -> `grid / 2`": (
        "__post_init__ refuses an odd grid, so grid / 2 is a whole number equal to grid // 2 "
        "and the comparisons rows >= half, cols >= half give the same labels"
    ),
    "decoding::greedy_choice::`-1` -> `1`": (
        "greedy_choice first checks that logits are 2-D (batch, vocab), so axis 1 is the "
        "last axis: argmax(dim=1) and argmax(dim=-1) pick the same token"
    ),
    "patching::patch_grid::`1` -> `2` #2": (
        "the divisors listed in the error run over range(1, size + 2) instead of "
        "range(1, size + 1): the extra candidate size + 1 never divides size, so the list "
        "is the same"
    ),
    "positions::relative_offsets::`-1` -> `1`": (
        "rows and cols are 1-D (N,), so torch.stack puts the new axis last with dim=1 as with "
        "dim=-1: the same (N, 2)"
    ),
    "positions::RelativePositionBias2D._check_forward::`-2` -> `2`": (
        "shape[2:] is only compared when queries.dim() == 4 (the `or` raises before "
        "otherwise), and for 4 dimensions shape[2:] and shape[-2:] are the same (T, d_head)"
    ),
    "positions::linear_resize_matrix::`old_n - 1` -> `old_n + 1`": (
        "places never exceed old_n - 1/2 (the last is (new_n - 1/2) old_n / new_n - 1/2), so "
        "without the upper clamp floor gives left = old_n - 1 and right is clamped to old_n - 1 "
        "too: the row gets (1 - t) + t = 1 at old_n - 1 (exactly 1 in float64, since t < 1/2), "
        "as with the clamp"
    ),
    "transformer::copy_torch_weights::`False` -> `True`": (
        "the default of getattr(theirs, 'norm_first', ...) is never read: theirs was just "
        "checked to be an nn.TransformerEncoderLayer or nn.TransformerDecoderLayer, and both "
        "always have a norm_first attribute"
    ),
}

SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
FLIPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
# Functions and methods whose partner is the usual slip: the other triangle, extreme, ...
CALL_SWAPS = {
    "tril": "triu",
    "triu": "tril",
    "amax": "amin",
    "amin": "amax",
    "max": "min",
    "min": "max",
    "argmax": "argmin",
    "argmin": "argmax",
    "sum": "mean",
    "mean": "sum",
    "cos": "sin",
    "sin": "cos",
    "any": "all",
    "all": "any",
    "floor": "ceil",
    "ceil": "floor",
    "clamp_min": "clamp_max",
    "clamp_max": "clamp_min",
}
NO_MUTATE = "# pragma: no mutate"


# --- finding the mutants ----------------------------------------------------------------


@dataclass
class Mutant:
    """One change to one module; ``index`` is its place in :func:`mutation_points`' order."""

    module: str
    index: int
    line: int
    function: str
    kind: str
    before: str
    after: str
    key: str = ""
    outcome: str = ""  # killed, survived, timeout, equivalent
    seconds: float = 0.0

    def describe(self) -> str:
        return f"{self.module}.py:{self.line} ({self.function}): `{self.before}` -> `{self.after}`"


@dataclass
class _Point:
    """Where a mutation applies: the node (or the body list and position) and how."""

    kind: str
    node: ast.AST
    line: int
    function: str
    apply: object = field(repr=False)  # a function(node) -> (before, after), done in place


def _docstring(node: ast.AST, statement: ast.stmt) -> bool:
    body = getattr(node, "body", None)
    return (
        isinstance(body, list)
        and body
        and body[0] is statement
        and isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _droppable(statement: ast.stmt) -> bool:
    if isinstance(statement, (ast.AugAssign, ast.Raise)):
        return True
    if isinstance(statement, ast.Expr):
        return not isinstance(statement.value, ast.Constant)  # a call, not a stray string
    if isinstance(statement, ast.Assign):
        return all(
            isinstance(target, (ast.Attribute, ast.Subscript)) for target in statement.targets
        )
    return False


def mutation_points(tree: ast.Module, skip_lines: set[int]) -> list[_Point]:
    """Every place in ``tree`` a mutation applies, in a fixed order (the order of the source)."""
    points: list[_Point] = []

    def add(kind: str, node: ast.AST, function: str, apply) -> None:
        line = getattr(node, "lineno", 0)
        if line not in skip_lines:
            points.append(_Point(kind, node, line, function, apply))

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.JoinedStr):  # an f-string: a message
            return
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = node.name if function == "<module>" else f"{function}.{node.name}"
            if not isinstance(node, ast.ClassDef):
                for default in [*node.args.defaults, *node.args.kw_defaults]:
                    if default is not None:
                        visit(default, name)
            visit_body(node, node.body, name)
            return
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                visit(node.value, function)
            return
        if isinstance(node, ast.Raise):
            return  # the raise itself may be dropped (visit_body); its message is left alone
        if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            add("operator", node, function, _swap_operator)
        elif isinstance(node, ast.AugAssign) and type(node.op) in SWAPS:
            add("operator", node, function, _swap_operator)
        elif isinstance(node, ast.Compare):
            for position, operator in enumerate(node.ops):
                if type(operator) in FLIPS:
                    add("comparison", node, function, _flip_comparison(position))
        elif isinstance(node, ast.BoolOp):
            add("boolean", node, function, _swap_boolean)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
            add("unary", node, function, _drop_unary)
        elif isinstance(node, ast.Call) and _called_name(node) in CALL_SWAPS:
            add("call", node, function, _swap_call)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float)):
            add("number", node, function, _change_number)  # strings and None are left alone
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            if isinstance(value, list):
                if value and all(isinstance(item, ast.stmt) for item in value):
                    visit_body(node, value, function)
                else:
                    for item in value:
                        if isinstance(item, ast.AST):
                            visit(item, function)
            elif isinstance(value, ast.AST):
                visit(value, function)

    def visit_body(owner: ast.AST, body: list[ast.stmt], function: str) -> None:
        for position, statement in enumerate(body):
            if _docstring(owner, statement):
                continue
            if _droppable(statement):
                add("statement", statement, function, _drop_statement(body, position))
            visit(statement, function)

    visit_body(tree, tree.body, "<module>")
    return points


def _swap_operator(node: ast.BinOp | ast.AugAssign) -> tuple[str, str]:
    before = ast.unparse(node).splitlines()[0]
    node.op = SWAPS[type(node.op)]()
    return before, ast.unparse(node).splitlines()[0]


def _flip_comparison(position: int):
    def apply(node: ast.Compare) -> tuple[str, str]:
        before = ast.unparse(node)
        node.ops[position] = FLIPS[type(node.ops[position])]()
        return before, ast.unparse(node)

    return apply


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return node.func.id if isinstance(node.func, ast.Name) else None


def _swap_call(node: ast.Call) -> tuple[str, str]:
    before = _short(ast.unparse(node))
    if isinstance(node.func, ast.Attribute):
        node.func.attr = CALL_SWAPS[node.func.attr]
    else:
        node.func.id = CALL_SWAPS[node.func.id]
    return before, _short(ast.unparse(node))


def _short(code: str, limit: int = 90) -> str:
    line = code.splitlines()[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _swap_boolean(node: ast.BoolOp) -> tuple[str, str]:
    before = ast.unparse(node)
    node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    return before, ast.unparse(node)


def _drop_unary(node: ast.UnaryOp) -> tuple[str, str]:
    node.replacement = node.operand  # _ReplaceMarked puts the operand in the node's place
    return ast.unparse(node), ast.unparse(node.operand)


def _change_number(node: ast.Constant) -> tuple[str, str]:
    before = repr(node.value)
    if isinstance(node.value, bool):
        node.value = not node.value
    elif isinstance(node.value, int):
        node.value = node.value + 1
    else:
        node.value = node.value * 2 if node.value else 1.0
    return before, repr(node.value)


def _drop_statement(body: list[ast.stmt], position: int):
    def apply(statement: ast.stmt) -> tuple[str, str]:
        before = _short(ast.unparse(statement))
        body[position] = ast.copy_location(ast.Pass(), statement)
        return before, "pass"

    return apply


class _ReplaceMarked(ast.NodeTransformer):
    """Put each dropped unary operator's operand in its place."""

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        return getattr(node, "replacement", node)


def skipped_lines(source: str) -> set[int]:
    return {number for number, line in enumerate(source.splitlines(), 1) if NO_MUTATE in line}


def mutants_of(module: str, source: str) -> list[Mutant]:
    """Every mutant of ``module`` (its source given), described; nothing is run."""
    tree = ast.parse(source)
    mutants = []
    for index, point in enumerate(mutation_points(tree, skipped_lines(source))):
        _, (before, after) = mutate(source, index)
        mutants.append(Mutant(module, index, point.line, point.function, point.kind, before, after))
    seen: Counter[str] = Counter()
    for mutant in mutants:
        base = f"{mutant.module}::{mutant.function}::`{mutant.before}` -> `{mutant.after}`"
        seen[base] += 1
        mutant.key = base if seen[base] == 1 else f"{base} #{seen[base]}"
    return mutants


def mutate(source: str, index: int) -> tuple[str, tuple[str, str]]:
    """The source with mutation ``index`` applied, and what it changed (before, after)."""
    tree = ast.parse(source)
    points = mutation_points(tree, skipped_lines(source))
    point = points[index]
    change = point.apply(point.node)
    tree = ast.fix_missing_locations(_ReplaceMarked().visit(tree))
    return ast.unparse(tree), change


# --- running the tests --------------------------------------------------------------------


class Sandbox:
    """A private copy of the package and the tests in which one module is rewritten at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for part in ("lessons_lib", "tests", "book"):
            if (ROOT / part).exists():
                shutil.copytree(
                    ROOT / part, root / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")

    def write(self, module: str, source: str) -> None:
        (self.root / "lessons_lib" / f"{module}.py").write_text(source, encoding="utf-8")


def _prepare_parent(threads: int) -> None:
    """Import the heavy libraries once, before forking; never lessons_lib itself."""
    sys.dont_write_bytecode = True  # a stale .pyc of a mutant must never be read back
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import hypothesis  # noqa: F401
    import numpy  # noqa: F401
    import pytest  # noqa: F401
    import torch

    torch.set_num_threads(threads)


def _start(sandbox: Sandbox, tests: list[str], log: Path) -> int:
    """Fork a child that runs ``tests`` in ``sandbox`` with pytest; return its pid."""
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns
        os.setsid()  # its own process group, so a timeout can end it and its children
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(descriptor, 1)
        os.dup2(descriptor, 2)
        os.chdir(sandbox.root)
        sys.path.insert(0, str(sandbox.root))
        import pytest

        arguments = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", *tests]
        code = pytest.main(arguments)
        sys.stdout.flush()
        os._exit(int(code))
    except BaseException:
        os._exit(99)


def _finish(pid: int, deadline: float) -> tuple[int | None, bool]:
    """Wait for the child until ``deadline``: (exit code, timed out)."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return None, True
        time.sleep(0.05)


def run_module(
    module: str, tests: list[str], sandboxes: list[Sandbox], only: set[int] | None, log_dir: Path
) -> tuple[list[Mutant], float]:
    """Run every mutant of ``module``; return them with their outcomes and the baseline time."""
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    mutants = [m for m in mutants_of(module, source) if only is None or m.index in only]
    for sandbox in sandboxes:
        sandbox.write(module, source)
    started = time.monotonic()
    code, _ = _finish(_start(sandboxes[0], tests, log_dir / "baseline.log"), float("inf"))
    baseline = time.monotonic() - started
    if code != 0:
        text = (log_dir / "baseline.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"{module}: its tests fail before any mutation (exit {code}):\n{text}")
    limit = 3 * baseline + 5
    waiting = list(mutants)
    running: dict[int, tuple[Mutant, Sandbox, float, float]] = {}
    try:
        _run_all(module, source, tests, waiting, running, list(sandboxes), limit, log_dir)
    finally:  # interrupted: end the children still running
        for pid in running:
            _finish(pid, 0.0)
    return mutants, baseline


def _run_all(
    module: str,
    source: str,
    tests: list[str],
    waiting: list[Mutant],
    running: dict[int, tuple[Mutant, Sandbox, float, float]],
    free: list[Sandbox],
    limit: float,
    log_dir: Path,
) -> None:
    """Keep one child per free sandbox running until every mutant has its outcome."""
    while waiting or running:
        while waiting and free:
            mutant, sandbox = waiting.pop(0), free.pop()
            sandbox.write(module, mutate(source, mutant.index)[0])
            log = log_dir / f"{module}-{mutant.index}.log"
            pid = _start(sandbox, tests, log)
            running[pid] = (mutant, sandbox, time.monotonic(), time.monotonic() + limit)
        for pid in list(running):
            mutant, sandbox, begun, deadline = running[pid]
            done, status = os.waitpid(pid, os.WNOHANG)
            timed_out = False
            if not done and time.monotonic() > deadline:
                _finish(pid, 0.0)
                timed_out = True
            elif not done:
                continue
            mutant.seconds = round(time.monotonic() - begun, 2)
            if timed_out:
                mutant.outcome = "timeout"
            else:
                code = os.waitstatus_to_exitcode(status)
                # 1: a test failed; 2: collection failed (the mutant does not even import)
                mutant.outcome = "survived" if code == 0 else "killed"
            if mutant.outcome == "survived" and mutant.key in EQUIVALENT:
                mutant.outcome = "equivalent"
            sandbox.write(module, source)
            free.append(sandbox)
            del running[pid]
            _report_one(mutant)
        time.sleep(0.05)


def _report_one(mutant: Mutant) -> None:
    mark = {"killed": ".", "timeout": "t", "survived": "S", "equivalent": "e"}[mutant.outcome]
    print(mark, end="" if mark in ".te" else f"\n  survived: {mutant.describe()}\n", flush=True)


# --- the command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(TESTS)}")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1)")
    parser.add_argument("--list", action="store_true", help="list the mutants; run nothing")
    parser.add_argument("--bad-input", action="store_true", help="add tests/test_bad_input.py")
    parser.add_argument(
        "--only", type=int, nargs="*", help="run only these mutant indices (see --list)"
    )
    parser.add_argument("--fail-under", type=float, default=0.0, help="exit 1 below this score")
    parser.add_argument("--json", type=Path, help="write the outcomes here (for make bench)")
    options = parser.parse_args(argv)
    modules = options.modules or list(TESTS)
    unknown = [module for module in modules if module not in TESTS]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(TESTS)}")
    if options.list:
        for module in modules:
            source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
            for mutant in mutants_of(module, source):
                print(f"{mutant.index:4d}  {mutant.kind:10s} {mutant.describe()}")
        return 0
    if options.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {options.jobs}")
    _prepare_parent(threads=max(1, (os.cpu_count() or 1) // options.jobs))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="mutate-") as scratch:
        scratch = Path(scratch)
        sandboxes = []
        for number in range(options.jobs):
            (scratch / f"copy{number}").mkdir()
            sandboxes.append(Sandbox(scratch / f"copy{number}"))
        (scratch / "logs").mkdir()
        for module in modules:
            tests = TESTS[module] + (BAD_INPUT_TESTS if options.bad_input else [])
            print(f"{module}.py with {' '.join(tests)}", flush=True)
            only = set(options.only) if options.only is not None else None
            mutants, baseline = run_module(module, tests, sandboxes, only, scratch / "logs")
            print()
            results[module] = summarise(mutants, baseline)
            for sandbox in sandboxes:  # leave the module as it was for the next one
                sandbox.write(module, (PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    score = print_report(results)
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps({"score": score, "modules": results}, indent=1))
    return 0 if score is None or score >= options.fail_under else 1


def summarise(mutants: list[Mutant], baseline: float) -> dict:
    counts = Counter(mutant.outcome for mutant in mutants)
    return {
        "mutants": len(mutants),
        "killed": counts["killed"] + counts["timeout"],
        "timeouts": counts["timeout"],
        "equivalent": counts["equivalent"],
        "survived": counts["survived"],
        "baseline_seconds": round(baseline, 2),
        "survivors": [asdict(m) for m in mutants if m.outcome == "survived"],
        "equivalents": [
            {**asdict(m), "why": EQUIVALENT[m.key]} for m in mutants if m.outcome == "equivalent"
        ],
    }


def print_report(results: dict[str, dict]) -> float | None:
    """A table of the modules, the survivors, and the total score (percent killed)."""
    print(
        f"\n{'module':14} {'mutants':>8} {'killed':>7} {'equiv.':>7} {'survived':>9} {'score':>7}"
    )
    total_killed = total_counted = 0
    for module, result in results.items():
        counted = result["mutants"] - result["equivalent"]
        score = 100 * result["killed"] / counted if counted else 100.0
        total_killed += result["killed"]
        total_counted += counted
        print(
            f"{module:14} {result['mutants']:8d} {result['killed']:7d} "
            f"{result['equivalent']:7d} {result['survived']:9d} {score:6.1f}%"
        )
    score = 100 * total_killed / total_counted if total_counted else None
    survivors = [s for result in results.values() for s in result["survivors"]]
    if survivors:
        print("\nsurvivors (no test failed):")
        for survivor in survivors:
            print(f"  {Mutant(**survivor).describe()}")
            print(f"      key: {survivor['key']}")
    if score is not None:
        print(f"\nmutation score: {score:.1f}% ({total_killed} of {total_counted} killed)")
    return score


if __name__ == "__main__":
    raise SystemExit(main())
