"""Chapter 04's experiment: a GRU against self-attention, timed over the sequence length.

:func:`gru_step_by_step` runs a GRU as the explicit loop over tokens that it
is; :func:`time_gru_and_attention` times one GRU layer against one attention
layer and counts their sequential steps, path lengths and multiply-adds.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import require_float, require_positive_int, require_rank, validated
from lessons_lib.attention import MultiHeadAttention


def _check_gru_step_by_step(gru: nn.GRU, inputs: torch.Tensor) -> None:
    if not isinstance(gru, nn.GRU) or gru.num_layers != 1 or not gru.batch_first:
        raise TypeError(f"gru must be a one-layer nn.GRU with batch_first=True, got {gru!r}")
    if gru.bidirectional:
        raise ValueError("gru must run in one direction, got bidirectional=True")
    require_rank("inputs", require_float("inputs", inputs), 3, "(batch, n, d_in)")


@validated(_check_gru_step_by_step)
def gru_step_by_step(gru: nn.GRU, inputs: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Run a one-layer ``nn.GRU(batch_first=True)`` as an explicit loop over the tokens.

        h_t = GRUCell(x_t, h_{t-1}),   h_{-1} = 0,   t = 0 .. n-1

    The same cell (the same weights) at every step, and each ``h_t`` needs
    ``h_{t-1}``: the loop cannot be run in parallel over the tokens.
    inputs ``(batch, n, d_in)`` -> outputs ``(batch, n, d_hidden)`` (equal to
    ``gru(inputs)[0]``) and the number of sequential steps it took.

    >>> gru = nn.GRU(4, 6, batch_first=True)
    >>> outputs, steps = gru_step_by_step(gru, torch.randn(2, 5, 4))
    >>> outputs.shape, steps
    (torch.Size([2, 5, 6]), 5)
    """
    cell = nn.GRUCell(gru.input_size, gru.hidden_size, bias=gru.bias)
    cell.weight_ih, cell.weight_hh = gru.weight_ih_l0, gru.weight_hh_l0  # the GRU's own weights
    if gru.bias:
        cell.bias_ih, cell.bias_hh = gru.bias_ih_l0, gru.bias_hh_l0
    state = inputs.new_zeros(inputs.shape[0], gru.hidden_size)  # (batch, d_hidden)
    outputs, steps = [], 0
    for t in range(inputs.shape[1]):
        state = cell(inputs[:, t], state)  # needs the state of step t-1
        outputs.append(state)
        steps += 1
    return torch.stack(outputs, dim=1), steps  # (batch, n, d_hidden)


def _median_ms(run: Callable[[], object], repeats: int, synchronize: Callable[[], None]) -> float:
    run()  # warm-up, untimed: first calls allocate memory and pick kernels
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def time_gru_and_attention(
    lengths: Sequence[int],
    d_model: int = 64,
    batch: int = 8,
    repeats: int = 5,
    seed: int = 0,
    device: str = "cpu",
    progress: bool | None = None,
) -> dict[str, list]:
    """One GRU layer against one self-attention layer of the same width, per sequence length.

    Both read ``batch`` random sequences of ``n`` tokens of width ``d_model``
    and return ``n`` outputs of width ``d_model``: ``nn.GRU(d_model, d_model)``
    and ``MultiHeadAttention(d_model, num_heads=1)`` (queries, keys and values
    from the same tokens). Each forward pass runs without gradients; its wall
    time is the median of ``repeats`` runs after one untimed warm-up, on
    ``device`` with whatever threads torch has.

    Returns lists over ``lengths`` (entry k belongs to ``lengths[k]``):

    - ``gru_ms``, ``attention_ms``: the median wall times, in milliseconds;
    - ``gru_steps`` = n, ``attention_steps`` = 1: steps that must run one after
      another (the GRU's state update t needs update t-1; attention computes
      every position in the same matrix products);
    - ``gru_path`` = n - 1, ``attention_path`` = 1: the longest path between two
      tokens, in updates: the first token reaches the last position of a GRU
      through n - 1 state updates, and any position of attention in one step;
    - ``gru_macs`` = 6 n d^2 (three gates, each an input and a state product of
      d x d per token) and ``attention_macs`` = 4 n d^2 + 2 n^2 d (the Q, K, V
      and output projections, then QK^T and weights @ V): multiply-adds for
      one sequence, biases and nonlinearities left out.

    >>> result = time_gru_and_attention([8, 32], d_model=16, batch=2, repeats=1)
    >>> result["gru_steps"], result["attention_path"]
    ([8, 32], [1, 1])
    """
    if not isinstance(lengths, (list, tuple)) or not lengths:
        raise TypeError(f"lengths must be a non-empty list of ints, got {lengths!r}")
    for n in lengths:
        require_positive_int("length", n)
    d_model = require_positive_int("d_model", d_model)
    batch = require_positive_int("batch", batch)
    repeats = require_positive_int("repeats", repeats)
    synchronize = torch.cuda.synchronize if torch.device(device).type == "cuda" else lambda: None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gru = nn.GRU(d_model, d_model, batch_first=True).to(device)
        attention = MultiHeadAttention(d_model, num_heads=1).to(device)
        inputs = torch.randn(batch, max(lengths), d_model).to(device)  # (batch, n_max, d)
    show_bar = not building_book() if progress is None else progress
    result: dict[str, list] = {"lengths": list(lengths)}
    with torch.inference_mode():
        for n in tqdm(lengths, desc="lengths", disable=not show_bar, mininterval=0.5):
            tokens = inputs[:, :n]  # (batch, n, d)
            gru_ms = _median_ms(partial(gru, tokens), repeats, synchronize)
            self_attention = partial(attention, tokens, tokens, tokens)
            attention_ms = _median_ms(self_attention, repeats, synchronize)
            counts = {
                "gru_ms": gru_ms,
                "attention_ms": attention_ms,
                "gru_steps": n,
                "attention_steps": 1,
                "gru_path": n - 1,
                "attention_path": 1,
                "gru_macs": 6 * n * d_model**2,
                "attention_macs": 4 * n * d_model**2 + 2 * n**2 * d_model,
            }
            for name, value in counts.items():
                result.setdefault(name, []).append(value)
    return result
