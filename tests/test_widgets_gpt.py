"""The GPT chapter's explorer: what next_token_view computes, and what the explorer shows.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

from __future__ import annotations

import json
import re

import pytest
import torch

from lessons_lib.corpus import CharTokenizer
from lessons_lib.gpt import GPT
from lessons_lib.widgets import EXPLORERS
from lessons_lib.widgets.gpt import (
    MAX_PROMPTS,
    TEMPERATURES,
    TOP_KS,
    TOP_PS,
    last_logits,
    next_token_explorer,
    next_token_view,
    visible,
)
from lessons_lib.widgets.static import MAX_STATIC_FRAMES

pytestmark = pytest.mark.widgets
VOCAB = 30
NAMES = [f"t{i}" for i in range(VOCAB)]


def random_logits(seed: int = 0, vocab: int = VOCAB) -> torch.Tensor:
    return torch.randn(vocab, generator=torch.Generator().manual_seed(seed)) * 2  # (vocab,)


def full_view(logits, **controls):
    """The view of every token, so that sums run over the whole vocabulary."""
    return next_token_view(logits, NAMES[: logits.shape[0]], show=logits.shape[0], **controls)


# --- next_token_view: the numbers ------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_temperature_1_without_cuts_is_the_softmax_and_keeps_everything(seed):
    logits = random_logits(seed)
    view = full_view(logits)
    softmax = torch.softmax(logits.double(), dim=0)
    assert torch.allclose(view.controlled.double(), softmax[view.ids], atol=1e-6)
    assert torch.allclose(view.model.double(), softmax[view.ids], atol=1e-6)
    assert view.kept == VOCAB and view.kept_mass == pytest.approx(1.0)


def test_the_tokens_shown_are_the_most_probable_in_order_with_their_names():
    logits = random_logits(3)
    view = next_token_view(logits, NAMES, show=4)
    order = torch.argsort(logits, descending=True)[:4]
    assert view.ids.tolist() == order.tolist()
    assert view.names == [NAMES[i] for i in order.tolist()]
    assert (view.model[:-1] >= view.model[1:]).all()


@pytest.mark.parametrize(
    "controls",
    [
        {"temperature": 0.5},
        {"temperature": 1.5, "top_k": 5},
        {"top_p": 0.5},
        {"temperature": 0.8, "top_k": 20, "top_p": 0.9},
    ],
)
def test_what_the_controls_keep_sums_to_1(controls):
    view = full_view(random_logits(4), **controls)
    assert float(view.controlled.double().sum()) == pytest.approx(1.0, abs=1e-5)
    assert int((view.controlled > 0).sum()) == view.kept


@pytest.mark.parametrize("k", [1, 5, 20])
def test_top_k_keeps_exactly_the_k_most_probable(k):
    logits = random_logits(5)
    view = full_view(logits, top_k=k, temperature=0.8)
    assert view.kept == k
    kept_ids = set(view.ids[view.controlled > 0].tolist())
    assert kept_ids == set(torch.topk(logits, k).indices.tolist())
    tempered = torch.softmax(logits.double() / 0.8, dim=0)
    assert view.kept_mass == pytest.approx(float(tempered.topk(k).values.sum()))


@pytest.mark.parametrize(("seed", "top_p"), [(6, 0.5), (7, 0.9), (8, 0.3)])
def test_top_p_keeps_the_smallest_set_of_most_probable_tokens_holding_p(seed, top_p):
    logits = random_logits(seed)
    view = full_view(logits, top_p=top_p)
    probabilities = torch.softmax(logits.double(), dim=0).sort(descending=True).values
    # the fewest most probable tokens whose mass reaches top_p, counted one by one
    n, mass = 0, 0.0
    while mass < top_p:
        mass += float(probabilities[n])
        n += 1
    assert view.kept == n and view.kept_mass == pytest.approx(mass)
    assert view.kept_mass >= top_p > view.kept_mass - float(probabilities[n - 1])
    assert (view.controlled[:n] > 0).all() and (view.controlled[n:] == 0).all()
    assert torch.allclose(view.controlled[:n].double(), probabilities[:n] / mass, atol=1e-6)


def test_temperature_sharpens_below_1_and_flattens_above():
    logits = random_logits(9)
    top = [float(full_view(logits, temperature=t).controlled[0]) for t in (0.5, 1.0, 1.5)]
    assert top[0] > top[1] > top[2]


def test_probabilities_give_the_same_view_as_their_logits():
    logits = random_logits(10)
    from_logits = full_view(logits, temperature=0.8, top_p=0.9)
    probabilities = torch.softmax(logits.double(), dim=0)
    from_probabilities = next_token_view(
        probabilities, NAMES, 0.8, None, 0.9, show=VOCAB, probabilities=True
    )
    assert from_probabilities.ids.tolist() == from_logits.ids.tolist()
    assert torch.allclose(from_probabilities.controlled, from_logits.controlled, atol=1e-6)
    assert from_probabilities.kept == from_logits.kept


def test_a_vocabulary_smaller_than_show_is_shown_whole():
    assert len(next_token_view(torch.tensor([1.0, 3.0, 2.0]), list("abc"), show=10).names) == 3


def test_a_zero_probability_is_never_kept():
    probabilities = torch.tensor([0.5, 0.0, 0.3, 0.2])
    view = next_token_view(probabilities, list("abcd"), show=4, probabilities=True)
    assert view.kept == 3 and float(view.controlled[view.ids == 1]) == 0.0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: next_token_view([1.0, 2.0], ["a", "b"]), TypeError, "logits"),
        (lambda: next_token_view(torch.ones(2, 3), ["a", "b", "c"]), ValueError, "(vocab,)"),
        (lambda: next_token_view(torch.ones(3), ["a", "b"]), ValueError, "one str per token"),
        (lambda: next_token_view(torch.ones(3), "abc"), ValueError, "got a str"),
        (lambda: next_token_view(torch.ones(3), list("abc"), show=0), ValueError, "show"),
        (lambda: next_token_view(torch.ones(3), list("abc"), top_k=4), ValueError, "top_k"),
        (lambda: next_token_view(torch.ones(3), list("abc"), top_p=1.5), ValueError, "top_p"),
        (lambda: next_token_view(torch.ones(3), list("abc"), 0.0), ValueError, "temperature"),
        (
            lambda: next_token_view(torch.tensor([1.0, float("nan")]), ["a", "b"]),
            ValueError,
            "NaN",
        ),
        (
            lambda: next_token_view(torch.tensor([0.5, 0.6]), ["a", "b"], probabilities=True),
            ValueError,
            "sum to 1",
        ),
    ],
)
def test_bad_input_is_refused_naming_what_was_expected(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_visible_shows_spaces_newlines_and_unknown_characters():
    assert visible(" a\n\tb") == "\u00b7a\\n\\tb"
    assert visible(CharTokenizer.UNKNOWN) == "<?>"
    assert visible("") == "''"


# --- the explorer ----------------------------------------------------------------------

TOKENIZER = CharTokenizer.from_text("abcdefghijklmnopqrstuvwxyz .")


def model(seed: int = 0, max_len: int = 8) -> GPT:
    torch.manual_seed(seed)
    return GPT(
        TOKENIZER.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=max_len
    ).eval()


def frames_of(explorer, monkeypatch) -> dict:
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    html = explorer._repr_mimebundle_()["text/html"]
    return json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))


def test_the_explorer_is_registered():
    assert EXPLORERS["next_token_explorer"] is next_token_explorer


def test_the_explorer_draws_the_view_of_the_prompt_it_shows():
    gpt = model()
    explorer = next_token_explorer(gpt, TOKENIZER, ["the cat", "a dog."], show=6)
    explorer.update(prompt=1, temperature=0.5, top_k=5, top_p=0.9)
    logits = gpt(torch.tensor([TOKENIZER.encode("a dog.")]))[0, -1].detach()
    names = [visible(TOKENIZER.decode([i])) for i in range(TOKENIZER.vocab_size)]
    view = next_token_view(logits, names, 0.5, 5, 0.9, show=6)
    ax = explorer.figure.axes[0]
    widths = [patch.get_width() for patch in ax.patches]  # grey bars first, then blue
    assert widths[:6] == pytest.approx(view.model.tolist(), abs=1e-6)
    assert widths[6:] == pytest.approx(view.controlled.tolist(), abs=1e-6)
    assert f"kept {view.kept} of {TOKENIZER.vocab_size} tokens" in ax.get_title()
    assert f"holding {view.kept_mass:.2f}" in ax.get_title()
    labels = [text.get_text() for text in ax.texts[:6]]
    assert labels == view.names


def test_the_static_page_has_a_distinct_frame_for_every_setting(monkeypatch):
    explorer = next_token_explorer(model(), TOKENIZER, ["the cat", "a dog.", "xyz"], show=6)
    data = frames_of(explorer, monkeypatch)
    expected = 3 * len(TEMPERATURES) * len(TOP_KS) * len(TOP_PS)  # 3 prompts x 36
    assert len(data["frames"]) == expected == 108 <= MAX_STATIC_FRAMES
    # Every setting changes the title at least, so no two frames are the same picture.
    assert len(data["images"]) == expected


def test_a_top_k_as_large_as_the_vocabulary_is_not_offered():
    tokenizer = CharTokenizer.from_text("the cat sat")  # 8 tokens: top-k 20 means nothing
    gpt = GPT(tokenizer.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32, max_len=8)
    explorer = next_token_explorer(gpt, tokenizer, ["the cat"])
    assert [value for _, value in explorer.controls["top_k"].options] == [None, 5]


def test_a_prompt_longer_than_max_len_is_read_from_its_end():
    gpt = model(max_len=4)
    ids = TOKENIZER.encode("a long prompt")
    expected = gpt(torch.tensor([ids[-4:]]))[0, -1]
    assert torch.allclose(last_logits(gpt, ids), expected)
    next_token_explorer(gpt, TOKENIZER, ["a long prompt"])  # draws without an error


def test_the_model_is_left_in_training_mode_if_it_was():
    gpt = model().train()
    next_token_explorer(gpt, TOKENIZER, ["the cat"])
    assert gpt.training


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((model(), TOKENIZER, "the cat"), TypeError, "prompts must be a list of str"),
        ((model(), TOKENIZER, []), ValueError, f"1 to {MAX_PROMPTS} distinct"),
        ((model(), TOKENIZER, ["a", "a"]), ValueError, "distinct"),
        ((model(), TOKENIZER, ["a", "b", "c", "d", "e"]), ValueError, "got 5"),
        ((model(), TOKENIZER, ["a", ""]), TypeError, "non-empty str"),
        ((model(), "abc", ["a"]), TypeError, "tokenizer must have encode"),
        ((torch.ones(3), TOKENIZER, ["a"]), TypeError, "model must be a torch.nn.Module"),
        (
            (model(), CharTokenizer.from_text("ab"), ["a"]),
            ValueError,
            "the model scores 29 tokens but the tokenizer has vocab_size=3",
        ),
    ],
)
def test_bad_arguments_are_refused_naming_what_was_expected(arguments, error, message):
    with pytest.raises(error, match=re.escape(message)):
        next_token_explorer(*arguments)
