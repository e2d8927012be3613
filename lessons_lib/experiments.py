"""Experiments: the runs behind the chapters' figures and tables.

Each function is one chapter's measurement, seeded, returning plain numbers
for the notebook to plot and the text to quote:

- chapter 04: a GRU against self-attention, timed over the sequence length
  (:func:`time_gru_and_attention`, :func:`gru_step_by_step`);
- chapter 02: why attention divides by sqrt(d_k) (:func:`scaling_experiment`);
- chapter 05: gradient norms down a deep stack under two initialisations
  (:func:`gradient_norms_per_layer`), and post-norm against pre-norm, with and
  without learning-rate warm-up (:func:`warmup_experiment`, :func:`gradient_norms_at_init`);
- chapters 06 and 10: the shape of the data after every part (:func:`trace_shapes`);
- chapter 06: where the date model's cross-attention reads (:func:`date_cross_attention`,
  :func:`field_attention_shares`);
- chapter 09: the ViT with each kind of position code (:func:`compare_position_codes`,
  :func:`interval_95`, :func:`paired_gap`), and its codes stretched to larger
  images (:func:`upsample_images`, :func:`evaluate_stretched`).
- chapter 10: the ViT against a small CNN as the training set grows
  (:func:`compare_vit_and_cnn`, :func:`summarise_runs`).

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from lessons_lib._env import building_book
from lessons_lib._validate import (
    require_float,
    require_int,
    require_positive_int,
    require_rank,
    validated,
)
from lessons_lib.attention import MultiHeadAttention
from lessons_lib.cnn import SmallCNN
from lessons_lib.data import (
    DATE_FIELDS,
    DATE_FORMATS,
    ISO_FIELD_SPANS,
    DateBatch,
    ImageSet,
    ReversalTask,
    format_date,
    shift_right,
)
from lessons_lib.decoding import greedy_decode
from lessons_lib.metrics import classification_accuracy
from lessons_lib.positions import sinusoidal_positions
from lessons_lib.residual import AddNorm, FeedForward, LayerNorm
from lessons_lib.softmax import entropy, softmax
from lessons_lib.training import cross_entropy, fit, one_thread, seeded, seeded_vit, train_vit
from lessons_lib.transformer import EncoderLayer, Transformer
from lessons_lib.vit import DIGITS_VIT, POSITION_KINDS, ViT, stretch_positions


def _require_seeds(seeds: object) -> list[int]:
    """A non-empty list (or tuple, or range) of int seeds."""
    if not isinstance(seeds, (list, tuple, range)) or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    return [require_int("seed", seed) for seed in seeds]


# --- chapter 04: self-attention against an RNN, timed ------------------------------------


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


# --- chapter 02: softmax saturates without the 1/sqrt(d_k) -------------------------------


def scaling_experiment(
    d_ks: list[int], n_keys: int = 16, n_trials: int = 256, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Why attention divides by sqrt(d_k): saturation of softmax(q·k) as d_k grows.

    For each ``d_k`` draw ``n_trials`` queries and ``n_keys`` keys with
    independent N(0, 1) entries, so each raw score ``q·k`` is a sum of ``d_k``
    products of variance 1 and has variance ``d_k``. Then compare
    ``softmax(q·k)`` with ``softmax(q·k / sqrt(d_k))``.

    Returns a dict of ``(len(d_ks),)`` tensors (float64):

    - ``score_variance``: the measured variance of the raw scores (about d_k);
    - ``entropy_scaled`` / ``entropy_unscaled``: mean entropy of the weights,
      in nats (``log n_keys`` = uniform, 0 = one-hot);
    - ``max_weight_scaled`` / ``max_weight_unscaled``: mean largest weight;
    - ``grad_scaled`` / ``grad_unscaled``: the median norm of the gradient
      that a random linear loss ``sum_j g_j w_j`` sends back through the
      softmax to its input scores. A saturated softmax passes almost none back.

    >>> result = scaling_experiment([4, 64, 1024])
    >>> result["entropy_unscaled"].diff().lt(0).all()  # falls towards 0 as d_k grows
    tensor(True)
    """
    if not isinstance(d_ks, (list, tuple)) or not d_ks:
        raise TypeError(f"d_ks must be a non-empty list of ints, got {d_ks!r}")
    for d_k in d_ks:
        require_positive_int("d_k", d_k)
    require_positive_int("n_keys", n_keys)
    require_positive_int("n_trials", n_trials)
    require_int("seed", seed)
    generator = torch.Generator().manual_seed(seed)
    columns: dict[str, list[float]] = {}
    for d_k in d_ks:
        queries = torch.randn(n_trials, 1, d_k, generator=generator, dtype=torch.float64)
        keys = torch.randn(n_trials, n_keys, d_k, generator=generator, dtype=torch.float64)
        upstream = torch.randn(n_trials, 1, n_keys, generator=generator, dtype=torch.float64)
        raw_scores = queries @ keys.transpose(-2, -1)  # (trials, 1, n_keys)
        columns.setdefault("score_variance", []).append(float(raw_scores.var()))
        for name, divisor in (("scaled", d_k**0.5), ("unscaled", 1.0)):
            scores = (raw_scores / divisor).requires_grad_(True)  # (trials, 1, n_keys)
            weights = softmax(scores)
            (weights * upstream).sum().backward()
            grad_norms = scores.grad.norm(dim=-1)  # (trials, 1)
            weights = weights.detach()
            columns.setdefault(f"entropy_{name}", []).append(float(entropy(weights).mean()))
            columns.setdefault(f"max_weight_{name}", []).append(float(weights.amax(-1).mean()))
            columns.setdefault(f"grad_{name}", []).append(float(grad_norms.median()))
    return {name: torch.tensor(values, dtype=torch.float64) for name, values in columns.items()}


# --- chapter 05: residual connections and the gradient -----------------------------------


INITS = ("default", "kaiming")


def variance_preserving_init(block: FeedForward) -> FeedForward:
    """Re-draw ``block``'s weights so that it keeps the size of its input; biases 0.

        W_1 ~ N(0, 2 / d_model)   (He et al., 2015: the ReLU after it zeroes half the inputs)
        W_2 ~ N(0, 1 / d_ff)      (gain 1: nothing after it)

    Per feature, ``Var(xW_1) = 2 Var(x)``, the ReLU halves the mean square,
    and ``W_2`` keeps it: a block's output has about its input's size, and
    the gradient going back keeps its size the same way. PyTorch's default
    for ``nn.Linear`` draws ``W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, of
    variance ``1 / (3 fan_in)``: each layer keeps a third of the mean square,
    the ReLU half, so a block keeps about ``1/3 * 1/2 * 1/3 = 1/18`` of it,
    a factor ``sqrt(18) ≈ 4.2`` smaller in norm (biases add a little back).

    >>> _ = torch.manual_seed(0)
    >>> block = variance_preserving_init(FeedForward(256, 512))
    >>> x = torch.randn(4096, 256)
    >>> round((block(x).pow(2).mean() / x.pow(2).mean()).item(), 1)
    1.0
    """
    with torch.no_grad():
        nn.init.kaiming_normal_(block.linear1.weight, nonlinearity="relu")
        nn.init.kaiming_normal_(block.linear2.weight, nonlinearity="linear")
        nn.init.zeros_(block.linear1.bias)
        nn.init.zeros_(block.linear2.bias)
    return block


def gradient_norms_per_layer(
    num_layers: int,
    *,
    residual: bool = True,
    norm: bool = False,
    d_model: int = 32,
    seed: int = 0,
    init: str = "default",
) -> torch.Tensor:
    """Gradient norm of each block's first weight in a freshly initialised deep stack.

    The stack repeats one block ``num_layers`` times:

        no residual:  h = FFN(h)              residual:  h = h + FFN(h)
        with ``norm``, each result goes through a layer norm (post-norm: LayerNorm(h + FFN(h)))

    ``init="default"`` keeps PyTorch's ``nn.Linear`` initialisation, under
    which each block shrinks a vector (and the gradient through it) about
    4-fold; ``init="kaiming"`` re-draws every block with
    :func:`variance_preserving_init`, under which a block keeps their size.
    The loss is a fixed random read-out of the top, ``mean(h_top * r)``, so the
    gradient entering the top is the same in every setting and only the path
    down the stack differs. Returns ``(num_layers,)``: entry 0 is the bottom block.
    Seeded by ``seed``; the global random state is left as it was.

    >>> gradient_norms_per_layer(16, residual=False)[0] < 1e-6   # vanished
    tensor(True)
    >>> kept = gradient_norms_per_layer(16, residual=False, init="kaiming")
    >>> bool(0.1 < kept[0] / kept[-1] < 10)   # the same stack, another initialisation
    True
    """
    num_layers = require_positive_int("num_layers", num_layers)
    d_model = require_positive_int("d_model", d_model)
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    require_int("seed", seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        blocks = [FeedForward(d_model, 2 * d_model) for _ in range(num_layers)]
        if init == "kaiming":
            blocks = [variance_preserving_init(block) for block in blocks]
        add_norms = [AddNorm(d_model) for _ in range(num_layers)]
        h = torch.randn(64, d_model)  # (batch, d_model)
        readout = torch.randn(64, d_model)
    for block, add_norm in zip(blocks, add_norms):
        out = block(h)
        if residual:
            h = add_norm(h, out) if norm else h + out
        else:
            h = add_norm.norm(out) if norm else out
    (h * readout).mean().backward()
    return torch.stack([block.linear1.weight.grad.norm() for block in blocks])


# --- chapter 05: the norm's place and learning-rate warm-up ------------------------------


class EncoderStack(nn.Module):
    """Encoder layers that write one token per position: the model of the warm-up runs.

        h_0    = embedding(tokens) + PE                  (batch, length, d_model)
        h_l    = EncoderLayer_l(h_{l-1}),  l = 1 .. N    post-norm, or pre-norm (norm_first)
        logits = Linear(LayerNorm(h_N))                  the final LayerNorm in pre-norm only

    tokens ``(batch, length)`` -> logits ``(batch, length, vocab_size)``. The
    layers are the book's :class:`~lessons_lib.transformer.EncoderLayer`, so
    post-norm and pre-norm differ only by where each layer normalises.

    >>> EncoderStack(11, length=6, num_layers=2)(torch.zeros(3, 6, dtype=torch.long)).shape
    torch.Size([3, 6, 11])
    """

    def __init__(
        self,
        vocab_size: int,
        length: int,
        d_model: int = 32,
        num_heads: int = 2,
        num_layers: int = 4,
        norm_first: bool = False,
    ) -> None:
        super().__init__()
        require_positive_int("num_layers", num_layers)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.register_buffer("positions", sinusoidal_positions(length, d_model), persistent=False)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads=num_heads, d_ff=2 * d_model, norm_first=norm_first)
            for _ in range(num_layers)
        )
        self.final_norm = LayerNorm(d_model) if norm_first else nn.Identity()
        self.output = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embedding(tokens) + self.positions  # (batch, length, d_model)
        for layer in self.layers:
            h = layer(h)  # (batch, length, d_model)
        return self.output(self.final_norm(h))  # (batch, length, vocab_size)


@dataclass(frozen=True)
class WarmupRecipe:
    """The warm-up runs: an :class:`EncoderStack` learns to reverse short digit sequences.

    The learning rate, 2e-2, is high on purpose: at 1e-2 all four settings
    trained in our trials (``bench/bench_warmup.py`` runs both rates), and the
    effect of the norm's place only shows where training is near its limit.
    """

    length: int = 6
    d_model: int = 32
    num_heads: int = 2
    num_layers: int = 4
    batch_size: int = 32
    steps: int = 80
    lr: float = 2e-2
    warmup_steps: int = 25


# label -> (norm_first, warm-up?)
WARMUP_SETTINGS = {
    "post-norm": (False, False),
    "post-norm + warm-up": (False, True),
    "pre-norm": (True, False),
    "pre-norm + warm-up": (True, True),
}


def _encoder_stack(task: ReversalTask, recipe: WarmupRecipe, norm_first: bool) -> EncoderStack:
    return EncoderStack(
        task.vocab_size,
        task.length,
        recipe.d_model,
        recipe.num_heads,
        recipe.num_layers,
        norm_first,
    )


def warmup_experiment(
    seeds: Sequence[int] = (0, 1, 2),
    recipe: WarmupRecipe | None = None,
    progress: bool | None = None,
) -> dict[str, list[list[float]]]:
    """Training-loss curves of one model, post-norm and pre-norm, each with and without warm-up.

    For every setting of :data:`WARMUP_SETTINGS` and every seed, an
    :class:`EncoderStack` (weights drawn from the seed) is trained with Adam
    for ``recipe.steps`` steps on reversal of ``recipe.length`` digits
    (batches drawn from seed + 1), the cross-entropy of every output digit as
    the loss. With warm-up the rate climbs linearly over ``recipe.warmup_steps``
    steps (:func:`~lessons_lib.training.fit`'s ``warmup_steps``); without, it
    is ``recipe.lr`` from the first step. The same seed gives every setting
    the same weights (up to pre-norm's extra final norm) and the same batches.
    Nothing is selected, so no split is held out: the curves compare training.

    Returns ``{setting: [losses per step, one list per seed]}``.

    >>> curves = warmup_experiment(seeds=[0], recipe=WarmupRecipe(steps=3, warmup_steps=2))
    >>> list(curves), len(curves["pre-norm"][0])
    (['post-norm', 'post-norm + warm-up', 'pre-norm', 'pre-norm + warm-up'], 3)
    """
    recipe = recipe or WarmupRecipe()
    seeds = _require_seeds(seeds)
    if not isinstance(recipe, WarmupRecipe):
        raise TypeError(f"recipe must be a WarmupRecipe, got {type(recipe).__name__}")
    task = ReversalTask(length=recipe.length)
    show_bar = not building_book() if progress is None else progress
    runs = [(label, seed) for label in WARMUP_SETTINGS for seed in seeds]
    curves: dict[str, list[list[float]]] = {label: [] for label in WARMUP_SETTINGS}
    with one_thread():
        for label, seed in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
            norm_first, warm_up = WARMUP_SETTINGS[label]
            model = seeded(seed, partial(_encoder_stack, task, recipe, norm_first))
            history = fit(
                model,
                lambda model, batch: cross_entropy(model(batch[0]), batch[1]),
                task.batches(recipe.batch_size, torch.Generator().manual_seed(seed + 1)),
                steps=recipe.steps,
                lr=recipe.lr,
                warmup_steps=recipe.warmup_steps if warm_up else 0,
                progress=False,
            )
            curves[label].append(history.losses)
    return curves


def final_losses(curves: Mapping[str, list[list[float]]], last: int = 10) -> dict[str, list[float]]:
    """Per setting, each run's mean loss over its ``last`` steps (smoother than the last one).

    >>> final_losses({"a": [[3.0, 2.0, 1.0], [4.0, 2.0, 2.0]]}, last=2)
    {'a': [1.5, 2.0]}
    """
    last = require_positive_int("last", last)
    for label, runs in curves.items():
        if any(len(losses) == 0 for losses in runs):
            raise ValueError(f"every run needs at least one loss, got an empty run for {label!r}")
    return {
        label: [sum(losses[-last:]) / len(losses[-last:]) for losses in runs]
        for label, runs in curves.items()
    }


def gradient_norms_at_init(
    num_layers: int,
    norm_first: bool,
    seeds: Sequence[int] = (0, 1, 2, 3),
    recipe: WarmupRecipe | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Gradient norm of each layer's weights, at initialisation, in the warm-up model.

    For each seed a fresh :class:`EncoderStack` of ``num_layers`` layers (the
    other sizes from ``recipe``) takes one batch of ``batch_size`` training
    sequences; after one backward pass of the cross-entropy, layer l's number
    is the norm of the gradient of all its weights together,
    ``sqrt(sum over its parameters of |grad|^2)``. Returns ``(num_layers,)``,
    the mean over the seeds; entry 0 is the layer next to the input. This is
    what Xiong et al. (2020) studied: at initialisation, post-norm gives the
    layers near the output larger gradients than pre-norm does.

    >>> gradient_norms_at_init(3, norm_first=True, seeds=[0]).shape
    torch.Size([3])
    """
    num_layers = require_positive_int("num_layers", num_layers)
    seeds = _require_seeds(seeds)
    batch_size = require_positive_int("batch_size", batch_size)
    if recipe is not None and not isinstance(recipe, WarmupRecipe):
        raise TypeError(f"recipe must be a WarmupRecipe, got {type(recipe).__name__}")
    recipe = replace(recipe or WarmupRecipe(), num_layers=num_layers)
    task = ReversalTask(length=recipe.length)
    total = torch.zeros(num_layers)
    for seed in seeds:
        model = seeded(seed, partial(_encoder_stack, task, recipe, norm_first))
        sources, targets = task.sample(batch_size, torch.Generator().manual_seed(seed + 1))
        cross_entropy(model(sources), targets).backward()
        for index, layer in enumerate(model.layers):
            squares = sum(parameter.grad.pow(2).sum() for parameter in layer.parameters())
            total[index] += float(squares) ** 0.5
    return total / len(seeds)


# --- chapters 06 and 10: shapes through a model ------------------------------------------


def trace_shapes(
    run: Callable[[], object], parts: Mapping[str, nn.Module]
) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, output shape)`` of each of ``parts``, in the order ``run()`` calls them.

    Puts a forward hook on every module of ``parts`` (name -> module), calls
    ``run()`` without gradients, and removes the hooks. A module that returns
    a tuple (attention returns its weights too) is recorded by its first item.

    >>> layer = nn.Linear(4, 3)
    >>> trace_shapes(lambda: layer(torch.zeros(2, 4)), {"linear": layer})
    [('linear', (2, 3))]
    """
    shapes: list[tuple[str, tuple[int, ...]]] = []

    def recorder(name: str):
        def hook(module: nn.Module, inputs: object, output: object) -> None:
            first = output[0] if isinstance(output, tuple) else output
            shapes.append((name, tuple(first.shape)))

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in parts.items()]
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return shapes


# --- chapter 06: where the date model's cross-attention reads ---------------------------


class DateAttention(NamedTuple):
    """What a date model wrote, and where its cross-attention read while writing it.

    ``outputs (n, 10)``: the greedy decode; ``cross (n, layers, heads, 10, L_src)``:
    every decoder layer's cross-attention weights, one row per output character
    (the row that predicts it), exactly 0 on the sources' padding.
    """

    outputs: torch.Tensor
    cross: torch.Tensor


@torch.no_grad()
def date_cross_attention(model: Transformer, batch: DateBatch, bos: int) -> DateAttention:
    """Decode ``batch`` greedily, then rerun the decoder on its own outputs for the weights.

    >>> from lessons_lib.data import DateTask
    >>> task = DateTask()
    >>> model = Transformer(
    ...     task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=30
    ... )
    >>> batch = task.sample(3, torch.Generator().manual_seed(0))
    >>> date_cross_attention(model, batch, task.bos).cross.shape  # (n, layers, heads, 10, L_src)
    torch.Size([3, 1, 2, 10, 30])
    """
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    if not isinstance(batch, DateBatch):
        raise TypeError(f"batch must be a DateBatch (DateTask.sample), got {type(batch).__name__}")
    steps = batch.targets.shape[1]
    outputs = greedy_decode(model, batch.sources, bos, steps, source_mask=batch.source_mask)
    memory = model.encode(batch.sources, batch.source_mask)
    _, weights = model.decode(
        shift_right(outputs, bos), memory, batch.source_mask, need_weights=True
    )
    cross = torch.stack([layer["cross"] for layer in weights], dim=1)  # (n, layers, heads, 10, L)
    return DateAttention(outputs, cross)


class FieldShares(NamedTuple):
    """How much of each output field's cross-attention falls on the same field of the source.

    ``by_head (layers, heads, 3)`` and ``by_style (formats, layers, 3)`` (the
    mean of the heads), averaged over the examples, for the fields ``year,
    month, day``; ``uniform (3,)``: the share that a reader spreading its
    weight evenly over the source characters would give.
    """

    by_head: torch.Tensor
    by_style: torch.Tensor
    uniform: torch.Tensor


def field_attention_shares(attention: DateAttention, batch: DateBatch) -> FieldShares:
    """Share of each output field's attention mass that lands on the matching source field.

    For an output field f (its characters ``ISO_FIELD_SPANS[f]`` in ``YYYY-MM-DD``)
    and the source characters S_f that write the same field (the year's digits,
    the month's name or number, the day's digits, from :func:`format_date`):

        share_f = mean over output characters t of f of  sum_{j in S_f} w[t, j]

    averaged over the examples. A uniform reader gives ``|S_f| / length``.
    """
    cross = require_float("attention.cross", attention.cross)
    require_rank("attention.cross", cross, 5, "(n, layers, heads, L_tgt, L_src)")
    n, layers, heads = cross.shape[:3]
    if n != batch.sources.shape[0]:
        raise ValueError(f"attention holds {n} examples but batch holds {batch.sources.shape[0]}")
    shares = torch.zeros(n, layers, heads, len(DATE_FIELDS))
    uniform = torch.zeros(n, len(DATE_FIELDS))
    for index in range(n):
        _, spans = format_date(batch.date(index), DATE_FORMATS[int(batch.styles[index])])
        for f, name in enumerate(DATE_FIELDS):
            (out_start, out_end), (start, end) = ISO_FIELD_SPANS[name], spans[name]
            rows = cross[index, :, :, out_start:out_end, start:end]  # (layers, heads, |f|, |S_f|)
            shares[index, :, :, f] = rows.sum(-1).mean(-1)
            uniform[index, f] = (end - start) / int(batch.lengths[index])
    by_style = torch.stack(
        [shares[batch.styles == style].mean(dim=(0, 2)) for style in range(len(DATE_FORMATS))]
    )  # (formats, layers, 3); NaN for a format the batch lacks
    return FieldShares(shares.mean(0), by_style, uniform.mean(0))


# --- chapter 09: the ViT with each kind of position code --------------------------------

# Chapter 09's two settings. The position task: 2x2 patches, a 4x4 grid; codes start as
# N(0, 0.3^2), so that 120 steps find the mark's quadrant with every learned kind.
MARK_TASK_VIT = dict(
    image_size=8,
    patch_size=2,
    d_model=32,
    num_layers=2,
    num_heads=2,
    num_classes=4,
    code_init_std=0.3,
)
MARK_TASK_STEPS = 120
# The digits (bench/results_position_codes.py, read by the chapter): 2x2 patches, so a 4x4
# grid of 16 patches, each too small to name the digit by itself; every run trains to its
# best on the validation split (train_to_best, at most ``steps``), then is tested once.
DIGITS_POSITIONS_VIT = dict(image_size=8, patch_size=2, d_model=32, num_layers=2, num_heads=2)
DIGITS_POSITIONS_TRAINING = dict(steps=3000, lr=3e-3, batch_size=64, eval_every=50, patience=6)


def _check_compare_position_codes(
    kinds: tuple[str, ...],
    seeds: tuple[int, ...],
    validation: ImageSet | None,
    best_steps: dict[str, list[int]] | None,
) -> None:
    if not isinstance(kinds, (list, tuple)) or not kinds:
        raise TypeError(f"kinds must be a non-empty tuple of position kinds, got {kinds!r}")
    unknown = [kind for kind in kinds if kind not in POSITION_KINDS]
    if unknown:
        raise ValueError(f"kinds must come from {POSITION_KINDS}, got {unknown}")
    _require_seeds(seeds)
    if validation is not None and not isinstance(validation, ImageSet):
        raise TypeError(f"validation must be an ImageSet or None, got {type(validation).__name__}")
    if best_steps is not None and not isinstance(best_steps, dict):
        raise TypeError(f"best_steps must be a dict or None, got {type(best_steps).__name__}")
    if best_steps is not None and validation is None:
        raise ValueError(
            "best_steps needs a validation split: only runs that stop at their best on "
            "validation have a best step, got validation=None"
        )


@validated(_check_compare_position_codes)
def compare_position_codes(
    train: ImageSet,
    test: ImageSet,
    kinds: tuple[str, ...] = POSITION_KINDS,
    seeds: tuple[int, ...] = (0, 1, 2),
    steps: int = 150,
    lr: float = 3e-3,
    batch_size: int = 64,
    progress: bool | None = None,
    *,
    validation: ImageSet | None = None,
    eval_every: int = 50,
    patience: int = 6,
    best_steps: dict[str, list[int]] | None = None,
    **options: object,
) -> tuple[dict[str, list[float]], dict[str, ViT]]:
    """Train one small ViT per (kind, seed); return test accuracies and the seed-0 models.

    Each run uses the same seeds for its weights and its batches, so the
    kinds differ only by their position codes. ``options`` go to :class:`ViT`.

    - ``validation=None``: every run trains for exactly ``steps`` steps, and
      ``test`` is scored once, after the last one.
    - ``validation`` given: every run trains to its best on ``validation``
      (:func:`train_to_best`: evaluated every ``eval_every`` steps, stopped
      after ``patience`` evaluations with no new best, at most ``steps``
      steps), keeps its best weights, and ``test`` is scored once, with them.
      ``best_steps``, if given a dict, receives kind -> each run's best step.

    One progress bar counts the runs (``progress=None``: except while the book
    is built, where a live bar cannot move).
    """
    show_bar = not building_book() if progress is None else progress
    scores: dict[str, list[float]] = {kind: [] for kind in kinds}
    models: dict[str, ViT] = {}
    runs = [(kind, seed) for kind in kinds for seed in seeds]
    for kind, seed in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
        model = seeded_vit(seed, positions=kind, **options)
        if validation is None:  # a fixed number of steps; test scored after the last
            history = train_vit(
                model,
                train,
                test,
                steps=steps,
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                eval_every=steps,
                progress=False,
            )
            scores[kind].append(history.final_score)
        else:  # to its best on validation; test scored with those weights
            run = train_to_best(
                model,
                train,
                validation,
                lr=lr,
                batch_size=batch_size,
                seed=seed,
                eval_every=eval_every,
                patience=patience,
                max_steps=steps,
            )
            scores[kind].append(classification_accuracy(model, test))
            if best_steps is not None:
                best_steps.setdefault(kind, []).append(run.best_step)
        models.setdefault(kind, model)
    return scores, models


def mean_and_standard_error(values: Sequence[float]) -> tuple[float, float]:
    """The mean of ``values`` and its standard error, ``s / sqrt(n)`` (s: sample std).

    Over seeds, the standard error says how far the mean could move with other
    seeds: two means closer than about two standard errors cannot be told apart.

    >>> [round(x, 4) for x in mean_and_standard_error([0.8, 0.9, 1.0])]
    [0.9, 0.0577]
    """
    values = [float(value) for value in values]
    if len(values) < 2:
        raise ValueError(f"a standard error needs at least 2 values, got {len(values)}")
    return statistics.fmean(values), statistics.stdev(values) / len(values) ** 0.5


# Student's t quantiles t_{0.975, df}, df = 1..30: a 95% interval of a mean over n seeds is
# mean ± t_{0.975, n-1} * standard error (wider than ± 2 standard errors when n is small).
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def interval_95(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval (Student's t).

        mean ± t_{0.975, n-1} * s / sqrt(n)

    With 3 seeds t is 4.30, so an interval is more than four standard errors
    wide each way; with 12 seeds, 2.20. Above 31 values, 1.96 is used.

    >>> [round(x, 3) for x in interval_95([0.8, 0.9, 1.0])]
    [0.9, 0.248]
    """
    mean, error = mean_and_standard_error(values)
    df = len(values) - 1
    return mean, (T_975[df - 1] if df <= len(T_975) else 1.96) * error


def paired_gap(
    scores: Mapping[str, Sequence[float]], kind: str, baseline: str
) -> tuple[float, float]:
    """``scores[kind][i] - scores[baseline][i]`` over seeds i: mean and 95% half-width.

    The runs of one seed share their batches and test set, so the gap is taken
    seed by seed (a paired comparison), which removes what the seeds share;
    the interval is :func:`interval_95` of the gaps. An interval that holds 0
    means the run cannot tell the two kinds apart.

    >>> [round(x, 3) for x in paired_gap({"1d": [0.9, 0.95], "none": [0.85, 0.88]}, "1d", "none")]
    [0.06, 0.127]
    """
    for name in (kind, baseline):
        if name not in scores:
            raise ValueError(f"scores has no kind {name!r}; it has {sorted(scores)}")
    if len(scores[kind]) != len(scores[baseline]):
        raise ValueError(
            f"{kind!r} has {len(scores[kind])} seeds but {baseline!r} has "
            f"{len(scores[baseline])}; a paired gap needs the same seeds"
        )
    gaps = [a - b for a, b in zip(scores[kind], scores[baseline])]
    return interval_95(gaps)


def upsample_images(data: ImageSet, factor: int) -> ImageSet:
    """Every image ``factor`` times larger each way, each pixel copied into a block.

    images ``(n, C, H, W)`` -> ``(n, C, factor H, factor W)`` (nearest-neighbour),
    labels unchanged. With the patch size kept, the ViT then sees a grid
    ``factor`` times larger each way.

    >>> data = ImageSet(torch.zeros(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), ("a",))
    >>> tuple(upsample_images(data, 2).images.shape)
    (2, 1, 16, 16)
    """
    if not isinstance(data, ImageSet):
        raise TypeError(f"data must be an ImageSet, got {type(data).__name__}")
    factor = require_positive_int("factor", factor)
    images = nn.functional.interpolate(data.images, scale_factor=factor, mode="nearest")
    return ImageSet(images, data.labels, data.class_names)  # (n, C, factor H, factor W)


STRETCHES = {  # label -> (the kind of the trained model, how its codes are stretched)
    "none": ("none", "2d"),
    "1-D codes, stretched in 1-D": ("1d", "1d"),
    "1-D codes, stretched in 2-D": ("1d", "2d"),
    "2-D codes, tables stretched": ("2d", "2d"),
}


def evaluate_stretched(
    models: Mapping[str, ViT], test: ImageSet, factor: int = 2
) -> dict[str, tuple[float, float]]:
    """Test accuracy at the training size and on ``factor``-times larger images.

    For each entry of :data:`STRETCHES` whose kind is in ``models`` (trained
    ViTs by kind), the model is scored on ``test`` as it is, then copied with
    its codes stretched to the larger grid (:func:`~lessons_lib.vit.stretch_positions`)
    and scored on the upsampled ``test`` (:func:`upsample_images`), with no
    further training. Returns label -> (accuracy before, accuracy after).
    """
    kinds = {kind for kind, _ in STRETCHES.values()}
    if not isinstance(models, Mapping) or not kinds & set(models):
        raise ValueError(
            f"models must map at least one of the kinds {sorted(kinds)} to a trained ViT, "
            f"got {sorted(models) if isinstance(models, Mapping) else type(models).__name__}"
        )
    larger = upsample_images(test, factor)
    results = {}
    for label, (kind, method) in STRETCHES.items():
        if kind not in models:
            continue
        model = models[kind]
        stretched = stretch_positions(model, model.image_size * factor, method)
        results[label] = (
            classification_accuracy(model, test),
            classification_accuracy(stretched, larger),
        )
    return results


# --- chapter 10: the ViT against a CNN as the training set grows --------------------------

MODEL_KINDS = ("ViT", "CNN")


def training_subset(train: ImageSet, size: int, seed: int) -> ImageSet:
    """``size`` training images drawn without replacement by a seeded shuffle (all: ``len(train)``).

    >>> images = ImageSet(torch.zeros(5, 1, 2, 2), torch.arange(5), tuple("abcde"))
    >>> len(training_subset(images, 3, seed=0))
    3
    """
    size = require_positive_int("size", size)
    seed = require_int("seed", seed)
    if not isinstance(train, ImageSet):
        raise TypeError(f"train must be an ImageSet, got {type(train).__name__}")
    if size > len(train):
        raise ValueError(f"size must be at most the {len(train)} training images, got {size}")
    chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:size]
    return ImageSet(train.images[chosen], train.labels[chosen], train.class_names)


class BestRun(NamedTuple):
    """How :func:`train_to_best` ended: the step whose weights it kept, and why it stopped."""

    best_step: int  # the evaluation with the highest validation accuracy (its weights are kept)
    steps: int  # every step taken, the patience after the best one included
    validation_accuracy: float  # at best_step
    stopped_early: bool  # False: max_steps ran out before the patience did


def train_to_best(
    model: nn.Module,
    train: ImageSet,
    validation: ImageSet,
    *,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    eval_every: int = 50,
    patience: int = 6,
    max_steps: int = 3000,
) -> BestRun:
    """Train until the validation accuracy stops rising; keep the weights of its best point.

    Early stopping: every ``eval_every`` steps the accuracy on ``validation``
    is measured; training stops once ``patience`` evaluations in a row bring
    no new highest accuracy, or after ``max_steps``, and the model gets back
    the weights of its first highest accuracy. One Adam optimiser runs
    throughout (its moments carry over between evaluations); the batches are
    drawn with replacement from ``train``, seeded by ``seed``.

    Why accuracy and not the validation loss: on a few dozen training images
    a model soon fits them all and grows confident, and its validation loss
    can rise from the first steps while its validation accuracy still climbs
    for hundreds of steps; stopping on the loss would keep the untrained model.
    """
    for name, value in (("eval_every", eval_every), ("patience", patience)):
        require_positive_int(name, value)
    if require_positive_int("max_steps", max_steps) < eval_every:
        raise ValueError(f"max_steps ({max_steps}) must be at least eval_every ({eval_every})")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    batches = train.batches(batch_size, torch.Generator().manual_seed(seed))

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch[0]), batch[1])

    best = (classification_accuracy(model, validation), 0, copy.deepcopy(model.state_dict()))
    steps, waited = 0, 0
    with one_thread():
        while steps < max_steps and waited < patience:
            chunk = min(eval_every, max_steps - steps)
            fit(model, loss_fn, batches, steps=chunk, optimiser=optimiser, progress=False)
            steps += chunk
            accuracy = classification_accuracy(model, validation)
            if accuracy > best[0]:
                best, waited = (accuracy, steps, copy.deepcopy(model.state_dict())), 0
            else:
                waited += 1
    model.load_state_dict(best[2])
    return BestRun(
        best_step=best[1],
        steps=steps,
        validation_accuracy=best[0],
        stopped_early=waited >= patience,
    )


def compare_vit_and_cnn(
    train: ImageSet,
    validation: ImageSet,
    test: ImageSet,
    sizes: tuple[int, ...],
    seeds: tuple[int, ...] = (0, 1, 2),
    lr: float = 3e-3,
    batch_size: int = 32,
    eval_every: int = 50,
    patience: int = 6,
    max_steps: int = 3000,
    progress: bool | None = None,
) -> dict[str, dict[str, dict[int, list[float]]]]:
    """The small ViT and the small CNN, each trained to its best, for each training-set size.

    Every run trains until its validation accuracy stops rising
    (:func:`train_to_best`: early stopping with ``patience``, capped at
    ``max_steps``), so no size is cut short by a fixed budget; the kept
    weights are then scored once on ``test`` and on the run's own training
    subset. The seed fixes the subset (:func:`training_subset`), the initial
    weights and the batches; the ViT is ``DIGITS_VIT``, the CNN
    :class:`~lessons_lib.cnn.SmallCNN`.

    Returns ``{"test": {"ViT": {size: [accuracy per seed]}, "CNN": {...}},
    "train": {...}, "steps": {...}}``, where ``steps`` is each run's best step.
    One progress bar counts the runs (``progress=None``: except while the
    book is built).
    """
    if not sizes:
        raise ValueError("sizes must name at least one training-set size, got none")
    for size in sizes:
        if not 1 <= require_int("size", size) <= len(train):
            raise ValueError(
                f"every size must lie in 1..{len(train)} (the training images), got {size}"
            )
    seeds = _require_seeds(seeds)
    show_bar = not building_book() if progress is None else progress
    builders: dict[str, Callable[[], nn.Module]] = {
        "ViT": lambda: ViT(**DIGITS_VIT),
        "CNN": lambda: SmallCNN(channels=train.images.shape[1], num_classes=10),
    }
    results: dict[str, dict[str, dict[int, list[float]]]] = {
        measure: {kind: {} for kind in MODEL_KINDS} for measure in ("test", "train", "steps")
    }
    runs = [(size, seed, kind) for size in sizes for seed in seeds for kind in MODEL_KINDS]
    for size, seed, kind in tqdm(runs, desc="runs", disable=not show_bar, mininterval=0.5):
        subset = training_subset(train, size, seed)
        model = seeded(seed, builders[kind])
        run = train_to_best(
            model,
            subset,
            validation,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            eval_every=eval_every,
            patience=patience,
            max_steps=max_steps,
        )
        with torch.no_grad():
            scored = {"test": classification_accuracy(model, test)}
            scored["train"] = classification_accuracy(model, subset)
        scored["steps"] = run.best_step
        for measure, value in scored.items():
            results[measure][kind].setdefault(size, []).append(value)
    return results


def summarise_runs(scores: Mapping[int, list[float]]) -> dict[str, list[float]]:
    """Per size (ascending): the mean, lowest and highest score over the seeds.

    >>> summarise_runs({100: [0.5, 0.7], 50: [0.2, 0.4]})
    {'sizes': [50, 100], 'mean': [0.30000000000000004, 0.6], 'low': [0.2, 0.5], 'high': [0.4, 0.7]}
    """
    if not scores or any(len(values) == 0 for values in scores.values()):
        raise ValueError(f"scores must map each size to at least one score, got {scores!r}")
    sizes = sorted(scores)
    return {
        "sizes": sizes,
        "mean": [sum(scores[size]) / len(scores[size]) for size in sizes],
        "low": [min(scores[size]) for size in sizes],
        "high": [max(scores[size]) for size in sizes],
    }
