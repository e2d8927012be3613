"""Input checks shared by every public function.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names what
was expected and what came, so that a reader can fix the call at once.
:func:`validated` runs a function's checks before its body, so that the body
the chapters print is the computation alone.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import operator
from collections.abc import Callable
from typing import TypeVar

import torch

Function = TypeVar("Function", bound=Callable[..., object])


def validated(check: Callable[..., object]) -> Callable[[Function], Function]:
    """Decorator: run ``check`` on the function's arguments, then the function.

    ``check``'s parameters name the arguments it reads (``self`` first for a
    method), each a parameter of the function; it gets them as the call gave
    them, or the function's defaults, and raises a TypeError or ValueError on
    bad input. What it returns is not used. The chapters print the guarded
    function with ``inspect.getsource``: its body is the computation alone, and
    the line ``@validated(check)`` above it says where the checks are.

    >>> def _check_halve(n):
    ...     require_positive_int("n", n)
    >>> @validated(_check_halve)
    ... def halve(n, exact=True):
    ...     return n / 2 if exact else n // 2
    >>> halve(4)
    2.0
    >>> halve(0)
    Traceback (most recent call last):
    ...
    ValueError: n must be > 0, got 0
    """

    # One mechanism for functions and for nn.Module.forward alike: a decorator shows on the
    # printed line where the checks live, and checks a direct layer.forward(x) call too,
    # which a forward pre-hook (run by __call__ only) would miss.
    def decorate(function: Function) -> Function:
        parameters = inspect.signature(function).parameters
        by_place = [name for name, p in parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
        reads = list(inspect.signature(check).parameters)  # the arguments the check needs
        unknown = [name for name in reads if name not in parameters]
        if unknown:
            raise TypeError(
                f"{check.__name__} reads {unknown}, which {function.__name__} does not take"
            )
        defaults = {name: parameters[name].default for name in reads}  # or missing: empty

        @functools.wraps(function)  # keeps the name, the docstring and the printed source
        def checked(*args: object, **kwargs: object) -> object:
            given = {**dict(zip(by_place, args)), **kwargs}  # every argument, by its name
            values = [given.get(name, defaults[name]) for name in reads]
            if not any(value is inspect.Parameter.empty for value in values):
                check(*values)  # (an argument missing: the call below says which)
            return function(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def require_tensor(name: str, value: object) -> torch.Tensor:
    """Return ``value`` if it is a tensor, else raise a TypeError naming it."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def require_float(name: str, value: object) -> torch.Tensor:
    """Return ``value`` if it is a floating-point tensor."""
    tensor = require_tensor(name, value)
    if not tensor.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (e.g. torch.float32), "
            f"got dtype {tensor.dtype}; convert it with {name}.float()"
        )
    return tensor


def require_token_ids(name: str, value: object) -> torch.Tensor:
    """Return ``value`` if it is a tensor of an integer dtype (token ids), else raise.

    >>> require_token_ids("ids", torch.tensor([3, 1])).tolist()
    [3, 1]
    >>> require_token_ids("ids", torch.tensor([3.0, 1.0]))
    Traceback (most recent call last):
    ...
    TypeError: ids must hold integer token ids, got dtype torch.float32
    """
    tensor = require_tensor(name, value)
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {tensor.dtype}")
    return tensor


def require_rank(name: str, tensor: torch.Tensor, rank: int, layout: str) -> None:
    """Raise a ValueError unless ``tensor`` has exactly ``rank`` dimensions."""
    if tensor.dim() != rank:
        raise ValueError(
            f"{name} must have {rank} dimensions {layout}, "
            f"got {tensor.dim()} dimensions with shape {tuple(tensor.shape)}"
        )


def require_min_rank(name: str, tensor: torch.Tensor, rank: int, layout: str) -> None:
    """Raise a ValueError unless ``tensor`` has at least ``rank`` dimensions."""
    if tensor.dim() < rank:
        raise ValueError(
            f"{name} must have at least {rank} dimensions {layout}, got shape {tuple(tensor.shape)}"
        )


def require_int(name: str, value: object) -> int:
    """Return ``value`` as a Python int: any integer (``numpy.int64`` too), but no bool.

    ``operator.index`` accepts exactly the types that can stand for an index,
    so ``numpy.int64(3)`` passes and ``3.0`` does not.

    >>> require_int("n", 3)
    3
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None


def require_positive_int(name: str, value: object) -> int:
    """Return ``value`` as a Python int if it is an integer > 0 (bools are refused)."""
    value = require_int(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def require_number(name: str, value: object) -> float:
    """Return ``value`` if it is a real number (int, float, numpy scalar), but not a bool.

    >>> require_number("lr", 0.1)
    0.1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return value


# The method that converts a tensor or a module to each dtype, for the error message.
_CONVERTERS = {
    torch.float32: "float()",
    torch.float64: "double()",
    torch.float16: "half()",
    torch.bfloat16: "bfloat16()",
}


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)  # torch >= 2.4
    except TypeError:  # torch 2.3: one function per device
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


def require_dtype_of(name: str, tensor: torch.Tensor, module: torch.nn.Module) -> torch.Tensor:
    """Return ``tensor`` if its dtype is that of ``module``'s weights, else a TypeError.

    ``torch.from_numpy`` gives float64 while a new layer's weights are
    float32; torch's own error ("mat1 and mat2 must have the same dtype")
    names neither the input nor the fix, so this message names both. Inside
    ``torch.autocast`` the dtypes may differ on purpose, and nothing is checked.

    >>> layer = torch.nn.Linear(2, 2)
    >>> try:
    ...     require_dtype_of("x", torch.zeros(2, dtype=torch.float64), layer)
    ... except TypeError as error:
    ...     for part in str(error).split("; "):
    ...         print(part)
    x has dtype torch.float64 but this Linear's weights are torch.float32
    call x.float() to convert the input, or .double() on the Linear to convert its weights
    """
    weight = next((p for p in module.parameters() if p.is_floating_point()), None)
    if weight is None or tensor.dtype == weight.dtype or _autocast_on(tensor.device.type):
        return tensor
    to_weights = _CONVERTERS.get(weight.dtype, f"to({weight.dtype})")
    to_input = _CONVERTERS.get(tensor.dtype, f"to({tensor.dtype})")
    raise TypeError(
        f"{name} has dtype {tensor.dtype} but this {type(module).__name__}'s weights are "
        f"{weight.dtype}; call {name}.{to_weights} to convert the input, "
        f"or .{to_input} on the {type(module).__name__} to convert its weights"
    )


def require_bool_mask(name: str, mask: object, target_shape: tuple[int, ...]) -> torch.Tensor:
    """Return ``mask`` if it is a bool tensor that broadcasts to ``target_shape`` as it is.

    The mask may have fewer dimensions, or size 1 where the scores have more,
    but it may not *enlarge* the scores: a mask of 3 sentences for scores of 2
    would otherwise give 3 outputs, from data that has 2.

    >>> require_bool_mask("mask", torch.ones(1, 4, dtype=torch.bool), (2, 3, 4)).shape
    torch.Size([1, 4])
    """
    tensor = require_tensor(name, mask)
    if tensor.dtype != torch.bool:
        raise TypeError(
            f"{name} must be a bool tensor (True = may attend), got dtype {tensor.dtype}"
        )
    target_shape = tuple(target_shape)
    try:
        joint = torch.broadcast_shapes(tuple(tensor.shape), target_shape)
    except RuntimeError:
        joint = None
    if joint != target_shape:
        raise ValueError(
            f"{name} of shape {tuple(tensor.shape)} does not broadcast to the scores' shape "
            f"{target_shape} without enlarging it; each of its dimensions must equal the "
            "scores' one or be 1"
        )
    return tensor
