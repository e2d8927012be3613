"""Position codes: what tells attention *where* each token is.

Attention by itself is blind to order (shuffle the tokens and its outputs
shuffle the same way), so each token's input is its embedding plus a code for
its position:

    input = token_embedding + position_code

This module holds the fixed sinusoidal codes of Vaswani et al. (2017).
"""

from __future__ import annotations

import math

import torch

from lessons_lib._validate import require_positive_int


def sinusoidal_positions(n: int, d: int) -> torch.Tensor:
    """Fixed sine/cosine position codes, ``(n, d)``.

        PE[pos, 2i]   = sin(pos / 10000^(2i/d))
        PE[pos, 2i+1] = cos(pos / 10000^(2i/d))

    Each pair of columns turns at its own frequency, from one turn every
    2*pi positions (i = 0) down to very slow ones, so every position gets a
    distinct code. An odd ``d`` keeps the last sine column.

    >>> sinusoidal_positions(50, 16).shape
    torch.Size([50, 16])
    """
    n = require_positive_int("n", n)
    d = require_positive_int("d", d)
    positions = torch.arange(n, dtype=torch.float64)[:, None]  # (n, 1)
    pair_index = torch.arange(0, d, 2, dtype=torch.float64)  # (ceil(d/2),) values 2i
    frequencies = torch.exp(-math.log(10000.0) * pair_index / d)  # 1 / 10000^(2i/d)
    angles = positions * frequencies[None, :]  # (n, ceil(d/2))
    codes = torch.empty(n, d, dtype=torch.float64)
    codes[:, 0::2] = torch.sin(angles)
    codes[:, 1::2] = torch.cos(angles[:, : d // 2])
    return codes.to(torch.get_default_dtype())
