"""Chapter "From the Transformer to GPT": a prompt, and what temperature, top-k and top-p do
to the model's next-token distribution.

:func:`next_token_view` computes what the explorer draws (tested directly);
:func:`next_token_explorer` draws it for a few prompts: the most probable next
tokens as horizontal bars, the model's own distribution (temperature 1, no
cut) in grey behind the one the controls make, in colour.

Layer: presentation (matplotlib, ipywidgets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ipywidgets
import torch
from matplotlib.artist import Artist

from lessons_lib._validate import require_float, require_positive_int, require_rank
from lessons_lib.decoding import next_token_probabilities
from lessons_lib.softmax import softmax
from lessons_lib.widgets.explorer import Explorer
from lessons_lib.widgets.rendering import new_figure
from lessons_lib.widgets.static import MAX_STATIC_FRAMES
from lessons_lib.widgets.tensors import drawable, require_finite, require_finite_model

TEMPERATURES = (0.5, 0.8, 1.0, 1.5)
TOP_KS = (None, 5, 20)  # None: no top-k cut
TOP_PS = (None, 0.5, 0.9)  # None: no top-p cut
FRAMES_PER_PROMPT = len(TEMPERATURES) * len(TOP_KS) * len(TOP_PS)  # 36
MAX_PROMPTS = MAX_STATIC_FRAMES // FRAMES_PER_PROMPT  # 4: every frame is stored in the page
KEPT_COLOUR = "tab:blue"
MODEL_COLOUR = "0.78"  # light grey
PROMPT_PIECES = 16  # the last tokens of the prompt, shown above the bars
ROW_INCHES, TOP_INCHES, BOTTOM_INCHES = 0.22, 0.85, 0.45  # the figure's height, in parts


@dataclass(frozen=True)
class NextTokenView:
    """What the explorer draws for one setting of the controls.

    ``ids`` and ``names``: the ``show`` most probable next tokens under the
    model's own distribution (temperature 1, no cut), most probable first;
    ``model`` their probabilities there, ``controlled`` their probabilities
    after the temperature, top-k and top-p (0 for a token that was cut).
    ``kept`` counts the tokens of the whole vocabulary left with a nonzero
    probability; ``kept_mass`` is the probability they held after the
    temperature and before the cuts (what top-p compares with ``top_p``).
    """

    ids: torch.Tensor
    names: list[str]
    model: torch.Tensor
    controlled: torch.Tensor
    kept: int
    kept_mass: float
    vocab_size: int


def next_token_view(
    logits: torch.Tensor,
    token_names: Sequence[str],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    show: int = 10,
    *,
    probabilities: bool = False,
) -> NextTokenView:
    """The explorer's computation: the top ``show`` next tokens, before and after the controls.

    logits ``(vocab,)``, the model's scores for the next token (or, with
    ``probabilities=True``, its probabilities, each >= 0 and summing to 1; their
    logarithms are logits of the same distribution). The controls act as
    :func:`lessons_lib.decoding.next_token_probabilities` does:
    softmax(logits / temperature), cut to the ``top_k`` largest, then to the
    nucleus of ``top_p``, renormalised. ``None`` turns a cut off. A vocabulary
    smaller than ``show`` is shown whole.

    >>> view = next_token_view(torch.tensor([2.0, 1.0, 0.0, -1.0]), list("abcd"), top_k=2, show=3)
    >>> view.names, view.kept, [round(p, 3) for p in view.controlled.tolist()]
    (['a', 'b', 'c'], 2, [0.731, 0.269, 0.0])
    """
    scores = require_float("logits", logits).detach().to("cpu", torch.float64)
    require_rank("logits", scores, 1, "(vocab,)")
    vocab_size = scores.shape[0]
    if vocab_size == 0:
        raise ValueError("logits must score at least one token, got shape (0,)")
    if probabilities:
        require_finite("probabilities", scores)
        total = float(scores.sum())
        if bool((scores < 0).any()) or abs(total - 1.0) > 1e-3:
            raise ValueError(
                f"probabilities must be >= 0 and sum to 1, got a minimum of "
                f"{float(scores.min()):.3g} and a sum of {total:.6g}"
            )
        scores = scores.log()  # (vocab,): -inf where a probability is 0
    else:
        require_finite("logits", scores)
    names = list(token_names) if not isinstance(token_names, str) else None
    if names is None or len(names) != vocab_size or not all(isinstance(n, str) for n in names):
        got = "a str" if isinstance(token_names, str) else f"{len(list(token_names))} entries"
        raise ValueError(f"token_names must hold one str per token ({vocab_size}), got {got}")
    show = min(require_positive_int("show", show), vocab_size)  # a small vocabulary: all of it
    model = softmax(scores, dim=-1)  # (vocab,): temperature 1, no cut
    tempered = softmax(scores, dim=-1, temperature=temperature)  # (vocab,): checks temperature
    controlled = next_token_probabilities(scores, temperature, top_k=top_k, top_p=top_p)
    kept = controlled > 0  # (vocab,)
    ids = model.topk(show).indices  # (show,), most probable first
    return NextTokenView(
        ids=ids,
        names=[names[int(i)] for i in ids],
        model=model[ids].float(),
        controlled=controlled[ids].float(),
        kept=int(kept.sum()),
        kept_mass=float(tempered[kept].sum()),
        vocab_size=vocab_size,
    )


# --- the explorer ---------------------------------------------------------------------


def visible(piece: str) -> str:
    """A token as a label: spaces as ``·``, newlines and tabs as ``\\n`` and ``\\t``.

    The replacement character U+FFFD (an unknown character, or a byte-level
    token holding part of a character's bytes) is shown as ``<?>``.

    >>> visible(" the\\n")
    '·the\\\\n'
    """
    shown = piece.replace(" ", "\u00b7").replace("\n", "\\n").replace("\t", "\\t")
    shown = shown.replace("\ufffd", "<?>")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown) or "''"


def _require_tokenizer(tokenizer: object) -> int:
    missing = [name for name in ("encode", "decode", "vocab_size") if not hasattr(tokenizer, name)]
    if missing:
        raise TypeError(
            "tokenizer must have encode, decode and vocab_size (a CharTokenizer or a "
            f"BPETokenizer), got a {type(tokenizer).__name__} without {', '.join(missing)}"
        )
    return require_positive_int("tokenizer.vocab_size", tokenizer.vocab_size)


def _require_prompts(prompts: object) -> list[str]:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise TypeError(f"prompts must be a list of str, got {type(prompts).__name__}")
    prompts = list(prompts)
    if not all(isinstance(prompt, str) and prompt for prompt in prompts):
        raise TypeError("prompts must be a list of non-empty str, got another item in it")
    if not 1 <= len(prompts) <= MAX_PROMPTS or len(set(prompts)) != len(prompts):
        raise ValueError(
            f"prompts must be 1 to {MAX_PROMPTS} distinct texts (each makes "
            f"{FRAMES_PER_PROMPT} frames of the static page, which holds {MAX_STATIC_FRAMES}), "
            f"got {len(prompts)} with {len(set(prompts))} distinct"
        )
    return prompts


@torch.no_grad()
def last_logits(model: torch.nn.Module, ids: Sequence[int]) -> torch.Tensor:
    """The model's logits for the token after ``ids``: ``forward((1, L))[0, -1]``, float32.

    A model with a ``max_len`` reads the last ``max_len`` ids only. The model
    runs in eval mode (no dropout) and is left in the mode it was in.
    """
    ids = list(ids)
    max_len = getattr(model, "max_len", None)
    if isinstance(max_len, int) and len(ids) > max_len:
        ids = ids[-max_len:]
    tokens = torch.tensor([ids], dtype=torch.long)  # (1, L)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        logits = model(tokens.to(device))
    finally:
        model.train(was_training)
    if (
        not isinstance(logits, torch.Tensor)
        or logits.dim() != 3
        or logits.shape[:2] != (1, len(ids))
    ):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(
            f"model must map tokens (1, {len(ids)}) to logits (1, {len(ids)}, vocab), got {shape}"
        )
    return drawable("logits", logits[0, -1])  # (vocab,)


def _setting(temperature: float, top_k: int | None, top_p: float | None) -> str:
    cuts = [f"T = {temperature:g}"]
    cuts.append("no top-k" if top_k is None else f"top-k {top_k}")
    cuts.append("no top-p" if top_p is None else f"top-p {top_p:g}")
    return ", ".join(cuts)


def next_token_explorer(
    model: torch.nn.Module,
    tokenizer: object,
    prompts: Sequence[str],
    show: int = 10,
) -> Explorer:
    """Pick a prompt, a temperature, a top-k and a top-p: see the next-token distribution change.

    ``model`` maps token ids ``(1, L)`` to logits ``(1, L, vocab)`` (a
    :class:`lessons_lib.gpt.GPT`); ``tokenizer`` has ``encode``, ``decode`` and
    ``vocab_size`` (a ``CharTokenizer`` or ``BPETokenizer``). Each bar row is one
    of the ``show`` most probable next tokens: grey, the model's distribution;
    blue, the one the controls make. The controls take fixed values
    (temperature 0.5/0.8/1/1.5, top-k off/5/20, top-p off/0.5/0.9; a top-k as
    large as the vocabulary is left out), so the static page holds 36 frames a
    prompt, and at most :data:`MAX_PROMPTS` prompts.

    >>> from lessons_lib.corpus import CharTokenizer
    >>> from lessons_lib.gpt import GPT
    >>> tokenizer = CharTokenizer.from_text("abcdefghijklmnopqrstuvwxyz ")
    >>> _ = torch.manual_seed(0)
    >>> model = GPT(tokenizer.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=8)
    >>> explorer = next_token_explorer(model, tokenizer, ["the cat", "a dog"])
    >>> list(explorer.controls)
    ['prompt', 'temperature', 'top_k', 'top_p']
    """
    require_finite_model("model", model)
    vocab_size = _require_tokenizer(tokenizer)
    prompts = _require_prompts(prompts)
    show = min(require_positive_int("show", show), vocab_size)
    names = [visible(tokenizer.decode([token_id])) for token_id in range(vocab_size)]
    encoded = [list(tokenizer.encode(prompt)) for prompt in prompts]
    if not all(encoded):
        raise ValueError("every prompt must encode to at least one token, got one with none")
    logits = [last_logits(model, ids) for ids in encoded]
    if logits[0].shape[0] != vocab_size:
        raise ValueError(
            f"the model scores {logits[0].shape[0]} tokens but the tokenizer has "
            f"vocab_size={vocab_size}: pass the tokenizer the model was trained with"
        )
    for prompt_logits in logits:
        require_finite("the model's logits", prompt_logits)
    top_ks = [k for k in TOP_KS if k is None or k < vocab_size]

    height = ROW_INCHES * show + TOP_INCHES + BOTTOM_INCHES  # inches: the rows, then margins
    figure = new_figure(6.6, height)
    figure.set_layout_engine("none")  # fixed margins: every frame has the same layout
    ax = figure.add_axes((0.2, BOTTOM_INCHES / height, 0.62, ROW_INCHES * show / height))
    rows = range(show)
    model_bars = ax.barh(rows, [0.0] * show, height=0.8, color=MODEL_COLOUR, label="model (T = 1)")
    kept_bars = ax.barh(rows, [0.0] * show, height=0.4, color=KEPT_COLOUR, label="after controls")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(show - 0.5, -0.5)  # the most probable token on top
    ax.set_yticks([])
    ax.set_xlabel("probability of the next token", fontsize=8)
    ax.tick_params(labelsize=8)
    figure.legend(loc="upper right", bbox_to_anchor=(0.97, 0.99), fontsize=7, frameon=False)
    labels = [
        ax.text(
            -0.02,
            row,
            "",
            ha="right",
            va="center",
            family="monospace",
            fontsize=8.5,
            transform=ax.get_yaxis_transform(),
        )
        for row in rows
    ]
    notes = [
        ax.text(
            1.02, row, "", ha="left", va="center", fontsize=7.5, transform=ax.get_yaxis_transform()
        )
        for row in rows
    ]
    prompt_text = figure.text(0.02, 0.97, "", va="top", family="monospace", fontsize=8.5)
    controls = {
        "prompt": ipywidgets.Dropdown(
            options=[(visible(prompt[-40:]), index) for index, prompt in enumerate(prompts)],
            description="prompt",
        ),
        "temperature": ipywidgets.Dropdown(
            options=[(f"{t:g}", t) for t in TEMPERATURES], value=1.0, description="temperature"
        ),
        "top_k": ipywidgets.Dropdown(
            options=[("off" if k is None else str(k), k) for k in top_ks], description="top-k"
        ),
        "top_p": ipywidgets.Dropdown(
            options=[("off" if p is None else f"{p:g}", p) for p in TOP_PS], description="top-p"
        ),
    }

    def update(prompt: int, temperature: float, top_k: int | None, top_p: float | None):
        view = next_token_view(logits[prompt], names, temperature, top_k, top_p, show)
        changed: list[Artist] = []
        for row in rows:
            model_bars[row].set_width(float(view.model[row]))
            kept_bars[row].set_width(float(view.controlled[row]))
            labels[row].set_text(view.names[row])
            before, after = float(view.model[row]), float(view.controlled[row])
            notes[row].set_text(
                f"{before:.2f} \u2192 {after:.2f}" if after else f"{before:.2f}, cut"
            )
        changed += [*model_bars, *kept_bars, *labels, *notes]
        pieces = "".join(f"[{names[token_id]}]" for token_id in encoded[prompt][-PROMPT_PIECES:])
        prompt_text.set_text(f"prompt: {pieces}\nnext token?")
        ax.set_title(
            f"{_setting(temperature, top_k, top_p)}: kept {view.kept} of {view.vocab_size} "
            f"tokens, holding {view.kept_mass:.2f} of the probability",
            fontsize=8.5,
        )
        return [*changed, prompt_text, ax.title]

    caption = (
        "The model's next-token distribution after a prompt (grey) and what the controls make "
        "of it (blue): a temperature below 1 sharpens it, above 1 flattens it; top-k keeps the k "
        "most probable tokens and top-p the fewest that hold p of the probability, then both "
        "renormalise what they keep. The title counts the tokens kept and the probability they "
        "held before the cut."
    )
    return Explorer(figure, controls, update, caption=caption, dpi=72)
