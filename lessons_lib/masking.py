"""Masks say which keys each query may attend to. True = may attend.

This is torch's convention for boolean masks in
``F.scaled_dot_product_attention``. Both masks broadcast against scores of
shape ``(batch, L_q, L_k)``, so they combine with ``&``::

    causal_mask(4) & padding_mask([4, 2], max_len=4)   # (2, 4, 4)

Layer: ops (imports torch only).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lessons_lib._validate import (
    require_bool_mask,
    require_float,
    require_int,
    require_positive_int,
    validated,
)


def causal_mask(n: int) -> torch.Tensor:
    """``(n, n)`` bool mask, True on and below the diagonal.

    Query i may attend to keys 0..i, never to a later (future) key.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    n = require_positive_int("n", n)
    return torch.ones(n, n, dtype=torch.bool).tril()


def padding_mask(lengths: Sequence[int] | torch.Tensor, max_len: int) -> torch.Tensor:
    """``(batch, 1, max_len)`` bool mask, True for real tokens, False for padding.

    The middle axis of size 1 broadcasts over the query positions.

    >>> padding_mask([2, 3], max_len=3).int().tolist()
    [[[1, 1, 0]], [[1, 1, 1]]]
    """
    max_len = require_positive_int("max_len", max_len)
    if isinstance(lengths, torch.Tensor):
        if lengths.dtype not in (torch.int64, torch.int32) or lengths.dim() != 1:
            raise TypeError(
                "lengths must be a 1-D LongTensor or a list of ints, "
                f"got a tensor of dtype {lengths.dtype} and shape {tuple(lengths.shape)}"
            )
        lengths_tensor = lengths.long()
    else:
        try:  # a list of ints; numpy integers (and arrays of them) count as ints
            values = [require_int("length", n) for n in lengths]
        except TypeError:
            raise TypeError(
                f"lengths must be a list of ints or a LongTensor, got {lengths!r}"
            ) from None
        lengths_tensor = torch.tensor(values, dtype=torch.long)
    if lengths_tensor.numel() == 0:
        raise ValueError("lengths must name at least one sequence, got an empty list")
    values_known = lengths_tensor.device.type != "meta"  # a meta tensor has shapes, no values
    if values_known and (lengths_tensor.min() < 0 or lengths_tensor.max() > max_len):
        raise ValueError(
            f"every length must lie in 0..max_len={max_len}, got {lengths_tensor.tolist()}"
        )
    positions = torch.arange(max_len, device=lengths_tensor.device)  # (max_len,)
    is_real = positions[None, :] < lengths_tensor[:, None]  # (batch, max_len)
    return is_real[:, None, :]  # (batch, 1, max_len)


def _check_apply_mask(scores: torch.Tensor, mask: torch.Tensor) -> None:
    scores = require_float("scores", scores)
    require_bool_mask("mask", mask, tuple(scores.shape))  # the mask's one check


@validated(_check_apply_mask)
def apply_mask(
    scores: torch.Tensor, mask: torch.Tensor, fill_value: float = float("-inf")
) -> torch.Tensor:
    """Set the scores where ``mask`` is False (may not attend) to ``fill_value``.

    scores ``(..., L_q, L_k)``, mask bool broadcastable to it -> ``(..., L_q, L_k)``.
    Applied *before* the softmax. With the default ``-inf`` a masked weight is
    exactly 0 and a row with nothing allowed becomes all zeros in
    :func:`lessons_lib.softmax.softmax`. A "huge negative number" such as
    ``-1e9`` (the notes' wording, and many codebases') also gives 0 for a
    masked key beside an allowed one, but a fully masked row then gets
    *uniform* weights over the keys it must not see, and ``-1e9`` does not fit
    in float16.

    >>> apply_mask(torch.zeros(2, 2), causal_mask(2))
    tensor([[0., -inf],
            [0., 0.]])
    """
    return scores.masked_fill(~mask, fill_value)  # (..., L_q, L_k)
