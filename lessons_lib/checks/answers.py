"""Reading what the reader's function returned: a plain CPU tensor, or a message why not.

Torch tensors of any dtype that holds real numbers, on any real device, are
taken as they are (a subclass such as ``nn.Parameter`` by its numbers); numpy
arrays and scalars of any byte order too (longdouble as float64). Everything
else is an :class:`AnswerError` whose message tells the reader what came back
and what was expected: None, a list, a meta, sparse, nested, quantized or
complex tensor, a masked array with masked entries, a count beyond 64 bits.
The dtype is kept, so that the checker can say when an answer lost precision.
"""

from __future__ import annotations

import math

import numpy as np
import torch

MAX_ANSWER_NUMBERS = 10**8
"""An answer with more numbers than this is refused before it is copied: none is that big."""


class AnswerError(Exception):
    """An answer that cannot be compared; its message is for the reader."""


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def _too_big(shape: tuple[int, ...], numel: int) -> AnswerError:
    return AnswerError(
        f"your answer has shape {shape}, {numel:,} numbers, far more than this exercise's "
        "answer; does your function use the sizes it is given?"
    )


def _numpy_target(array: np.ndarray) -> np.dtype:
    """The native-byte-order dtype that torch can take for ``array``'s numbers."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return np.dtype(np.bool_)
    if kind == "f":  # float16 and float32 stay what they are; longdouble becomes float64
        return np.dtype({2: np.float16, 4: np.float32}.get(size, np.float64))
    if kind == "i" or (kind == "u" and size == 1):
        return np.dtype(f"{kind}{size}")
    fits = array.size == 0 or int(array.max()) < 2**63  # uint16, uint32, uint64
    return np.dtype(np.int64 if fits else np.float64)


def _from_numpy(answer: np.ndarray | np.generic) -> torch.Tensor:
    if isinstance(answer, np.ma.MaskedArray):
        if np.ma.getmaskarray(answer).any():
            raise AnswerError(
                "expected a tensor, got a numpy masked array with masked entries; "
                "return every value, as a torch.Tensor"
            )
        answer = np.ma.getdata(answer)
    array = np.asarray(answer)  # a plain ndarray; a numpy scalar becomes 0-d
    if array.dtype.kind == "c":
        raise AnswerError(f"expected real numbers, got a numpy array of dtype {array.dtype}")
    if array.dtype.kind not in "biuf":
        raise AnswerError(f"expected a tensor of numbers, got a numpy array of dtype {array.dtype}")
    if array.size > MAX_ANSWER_NUMBERS:
        raise _too_big(array.shape, array.size)
    return torch.from_numpy(np.array(array, dtype=_numpy_target(array)))  # a native copy


def _converts_to_float64(dtype: torch.dtype) -> bool:
    """Whether torch can turn numbers of ``dtype`` into float64 (not so for bits8, ...)."""
    try:
        torch.empty(1, dtype=dtype).double()  # one element: an empty copy always works
    except Exception:  # RuntimeError, NotImplementedError, TypeError, by dtype
        return False
    return True


def _from_torch(answer: torch.Tensor) -> torch.Tensor:
    if type(answer) is not torch.Tensor:  # a subclass (nn.Parameter, ...): its numbers only
        answer = torch.Tensor.as_subclass(answer, torch.Tensor)
    if answer.is_nested:
        raise AnswerError("expected an ordinary tensor, got a nested tensor")
    if answer.layout != torch.strided:
        layout = str(answer.layout).removeprefix("torch.")
        raise AnswerError(f"expected a dense tensor, got a {layout} one: call .to_dense()")
    if answer.is_meta:
        raise AnswerError(
            "your tensor is on the 'meta' device: it has a shape but no values; "
            "create it on the CPU (leave out device='meta')"
        )
    if answer.is_quantized:
        raise AnswerError(
            f"expected real numbers, got a quantized tensor ({dtype_name(answer.dtype)}): "
            "call .dequantize()"
        )
    if answer.is_complex():
        raise AnswerError(f"expected real numbers, got dtype {answer.dtype}")
    if not _converts_to_float64(answer.dtype):
        raise AnswerError(f"expected a tensor of numbers, got dtype {answer.dtype}")
    if answer.numel() > MAX_ANSWER_NUMBERS:
        raise _too_big(tuple(answer.shape), answer.numel())
    return answer.detach().cpu()


def as_tensor(answer: object) -> torch.Tensor:
    """A torch tensor or numpy array (or scalar) -> a plain, detached CPU tensor.

    Anything that cannot be compared as numbers is an :class:`AnswerError` whose
    message says what came back. Numpy arrays of any byte order, and longdouble
    (as float64), are taken.

    >>> as_tensor(np.array([1.5, 2.0], dtype=">f4"))
    tensor([1.5000, 2.0000])
    """
    if answer is None:
        raise AnswerError("your function returned None: did you forget `return`?")
    if isinstance(answer, (np.ndarray, np.generic)):
        return _from_numpy(answer)
    if not isinstance(answer, torch.Tensor):
        raise AnswerError(f"expected a torch.Tensor, got {type(answer).__name__}")
    return _from_torch(answer)


def _from_python_number(answer: int | float) -> torch.Tensor:
    if isinstance(answer, float):
        return torch.tensor(float(answer), dtype=torch.float64)
    number = int(answer)
    if not -(2**63) <= number < 2**63:
        digits = int(number.bit_length() * math.log10(2)) + 1
        raise AnswerError(f"expected a number that fits in 64 bits, got one of {digits:,} digits")
    return torch.tensor(number, dtype=torch.int64)


def as_count(answer: object) -> torch.Tensor:
    """A number (int, numpy integer, float, 0-d tensor) -> a 0-d tensor; else AnswerError.

    >>> as_count(np.int32(6440))
    tensor(6440, dtype=torch.int32)
    """
    if answer is None:
        raise AnswerError("your function returned None: did you forget `return`?")
    if isinstance(answer, (torch.Tensor, np.ndarray, np.generic)):
        value = as_tensor(answer)
        if value.dim() != 0:
            shape = tuple(value.shape)
            raise AnswerError(f"expected a single number, got a tensor of shape {shape}")
        if value.dtype == torch.bool:
            raise AnswerError("expected a number, got a bool")
        return value
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise AnswerError(f"expected a number, got {type(answer).__name__}")
    return _from_python_number(answer)


def format_number(value: torch.Tensor) -> str:
    """A 0-d tensor as the reader would write it: ``6,440``, ``6,440.4``, ``nan``, ``1e+300``.

    >>> format_number(torch.tensor(6440.0))
    '6,440'
    """
    number = value.item()
    if isinstance(number, float) and math.isfinite(number) and abs(number) >= 1e15:
        return f"{number:.6g}"
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    return f"{number:,}"


def low_precision(dtype: torch.dtype) -> bool:
    """Whether ``dtype`` keeps fewer digits than float32 (float16, bfloat16, float8).

    >>> low_precision(torch.bfloat16), low_precision(torch.float64), low_precision(torch.int8)
    (True, False, False)
    """
    return dtype.is_floating_point and torch.finfo(dtype).eps > torch.finfo(torch.float32).eps
