"""Every named mistake of every checker, typed here by hand as a reader would slip.

``Mistake.compute`` is the checker's own idea of a slip; a test that feeds it back to its
checker cannot notice when it computes another slip than the one its name describes. Here
each slip is written afresh from its name and hint alone (no ``compute`` is called), and
the checker must name it; each checker's right answer is written in two more forms (a
loop and a vectorised one, torch against einsum, ...) that must pass. A mistake added to
``EXERCISES`` without a slip here fails :func:`test_every_mistake_has_a_hand_written_slip`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

import lessons_lib.checks as checks
from lessons_lib.checks import EXERCISES

SLIPS: dict[tuple[str, str], Callable[..., object]] = {}
"""(checker, mistake name) -> the wrong answer, written by hand."""

RIGHT_FORMS: dict[str, dict[str, Callable[..., object]]] = {}
"""checker -> {form: a right answer}; two forms at least for every checker."""


def slip(checker: str, mistake: str):
    def register(function):
        assert (checker, mistake) not in SLIPS, f"two slips for {checker}: {mistake}"
        SLIPS[(checker, mistake)] = function
        return function

    return register


def right(checker: str, form: str):
    def register(function):
        RIGHT_FORMS.setdefault(checker, {})[form] = function
        return function

    return register


def stable_softmax(scores, dim=-1):
    """The reader's own softmax: shift by the maximum, exponentiate, normalise."""
    exps = torch.exp(scores - scores.amax(dim=dim, keepdim=True))
    return exps / exps.sum(dim=dim, keepdim=True)


def normalise_rows(x, eps=1e-5):
    """The reader's own layer norm over the last axis, without gain or bias."""
    mean = x.mean(dim=-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(variance + eps)


# --- chapter 01: attention weights -----------------------------------------------------------

WEIGHTS = "check_attention_weights"


@right(WEIGHTS, "einsum")
def weights_einsum(queries, keys):
    scores = torch.einsum("qd,kd->qk", queries, keys) / math.sqrt(queries.shape[1])
    return torch.softmax(scores, dim=1)


@right(WEIGHTS, "one query at a time")
def weights_per_query(queries, keys):
    rows = []
    for query in queries:  # (d_k,)
        scores = torch.stack([query.dot(key) for key in keys]) / queries.shape[1] ** 0.5
        rows.append(stable_softmax(scores, dim=0))
    return torch.stack(rows)


@slip(WEIGHTS, "softmax over the wrong axis")
def weights_softmax_down_the_columns(queries, keys):
    return torch.softmax(queries @ keys.T / math.sqrt(queries.shape[-1]), dim=0)


@slip(WEIGHTS, "no scaling")
def weights_unscaled(queries, keys):
    return torch.softmax(queries @ keys.T, dim=-1)


@slip(WEIGHTS, "divided by d_k")
def weights_over_d_k(queries, keys):
    return torch.softmax(queries @ keys.T / queries.shape[-1], dim=-1)


@slip(WEIGHTS, "divided by √L_q, not √d_k")
def weights_over_root_l_q(queries, keys):
    l_q = len(queries)  # the number of queries, taken for the vector length
    return torch.softmax(queries @ keys.T / l_q**0.5, dim=-1)


@slip(WEIGHTS, "scores transposed")
def weights_keys_first(queries, keys):
    return torch.softmax(keys @ queries.T / math.sqrt(queries.shape[-1]), dim=-1)


@slip(WEIGHTS, "no softmax")
def weights_scores_only(queries, keys):
    return queries @ keys.T / math.sqrt(keys.shape[-1])


@slip(WEIGHTS, "no softmax and no scaling")
def weights_raw_dot_products(queries, keys):
    return torch.einsum("qd,kd->qk", queries, keys)


# --- chapter 01: one attention head ----------------------------------------------------------

HEAD = "check_attention_head"


@right(HEAD, "one token at a time")
def head_per_token(inputs, w_q, w_k, w_v):
    keys, values = inputs @ w_k, inputs @ w_v
    outputs = []
    for token in inputs:  # (d_model,): the same W_Q at every position
        query = token @ w_q
        weights = stable_softmax(keys @ query / math.sqrt(w_q.shape[1]), dim=0)  # (seq,)
        outputs.append((weights[:, None] * values).sum(dim=0))
    return torch.stack(outputs)


@right(HEAD, "einsum")
def head_einsum(inputs, w_q, w_k, w_v):
    q = torch.einsum("sm,mk->sk", inputs, w_q)
    k = torch.einsum("sm,mk->sk", inputs, w_k)
    v = torch.einsum("sm,mk->sk", inputs, w_v)
    weights = torch.softmax(torch.einsum("qk,tk->qt", q, k) / q.shape[1] ** 0.5, dim=-1)
    return torch.einsum("qt,tk->qk", weights, v)


def head_weights(q, k):
    return torch.softmax(q @ k.T / math.sqrt(q.shape[-1]), dim=-1)


@slip(HEAD, "returned the weights")
def head_returns_weights(inputs, w_q, w_k, w_v):
    return head_weights(inputs @ w_q, inputs @ w_k)


@slip(HEAD, "weighted the keys")
def head_weights_keys(inputs, w_q, w_k, w_v):
    keys = inputs @ w_k
    return head_weights(inputs @ w_q, keys) @ keys


@slip(HEAD, "W_Q used for the keys")
def head_keys_from_w_q(inputs, w_q, w_k, w_v):
    queries = inputs @ w_q
    keys = inputs @ w_q  # copied the line above and forgot to change the matrix
    return head_weights(queries, keys) @ (inputs @ w_v)


@slip(HEAD, "weights transposed")
def head_weights_transposed(inputs, w_q, w_k, w_v):
    return head_weights(inputs @ w_q, inputs @ w_k).T @ (inputs @ w_v)


@slip(HEAD, "no scaling")
def head_unscaled(inputs, w_q, w_k, w_v):
    q, k, v = inputs @ w_q, inputs @ w_k, inputs @ w_v
    return torch.softmax(q @ k.T, dim=-1) @ v


@slip(HEAD, "divided by √seq, not √d_k")
def head_over_root_seq(inputs, w_q, w_k, w_v):
    q, k, v = inputs @ w_q, inputs @ w_k, inputs @ w_v
    seq = q.shape[0]  # taken where d_k = q.shape[1] belongs
    return torch.softmax(q @ k.T / math.sqrt(seq), dim=-1) @ v


@slip(HEAD, "no softmax")
def head_no_softmax(inputs, w_q, w_k, w_v):
    q, k, v = inputs @ w_q, inputs @ w_k, inputs @ w_v
    return (q @ k.T / math.sqrt(q.shape[-1])) @ v


# --- chapter 02: softmax ---------------------------------------------------------------------

SOFTMAX = "check_softmax"


@right(SOFTMAX, "log-sum-exp")
def softmax_logsumexp(logits):
    return torch.exp(logits - torch.logsumexp(logits, dim=-1, keepdim=True))


@right(SOFTMAX, "one row at a time, in Python floats")
def softmax_python_rows(logits):
    rows = []
    for row in logits.tolist():
        top = max(row)
        exps = [math.exp(value - top) for value in row]
        rows.append([value / sum(exps) for value in exps])
    return torch.tensor(rows)


@slip(SOFTMAX, "no max-subtraction (overflow)")
def softmax_plain_exp(logits):
    exps = logits.exp()
    return exps / exps.sum(dim=1, keepdim=True)


@slip(SOFTMAX, "subtracted the global maximum, not each row's (underflow)")
def softmax_minus_global_max(logits):
    exps = torch.exp(logits - logits.max())  # one number for the whole tensor
    return exps / exps.sum(dim=-1, keepdim=True)


@slip(SOFTMAX, "subtracted the minimum, not the maximum")
def softmax_minus_min(logits):
    exps = torch.exp(logits - logits.min(dim=-1, keepdim=True).values)
    return exps / exps.sum(dim=-1, keepdim=True)


@slip(SOFTMAX, "subtracted the mean, not the maximum")
def softmax_minus_mean(logits):
    shifted = logits - logits.mean(dim=1)[:, None]
    return shifted.exp() / shifted.exp().sum(dim=1)[:, None]


@slip(SOFTMAX, "softmax over the wrong axis")
def softmax_down_the_columns(logits):
    return stable_softmax(logits, dim=0)


@slip(SOFTMAX, "not normalised")
def softmax_not_normalised(logits):
    return torch.exp(logits - logits.max(dim=-1, keepdim=True).values)


@slip(SOFTMAX, "sum without keepdim")
def softmax_sum_without_keepdim(logits):
    exps = torch.exp(logits - logits.max(dim=-1, keepdim=True).values)
    return exps / exps.sum(dim=-1)


# --- chapter 02: softmax with a temperature --------------------------------------------------

TEMPERATURE = "check_temperature_softmax"


@right(TEMPERATURE, "log-sum-exp")
def temperature_logsumexp(logits, temperature):
    scaled = logits / temperature
    return torch.exp(scaled - torch.logsumexp(scaled, dim=-1, keepdim=True))


@right(TEMPERATURE, "one row at a time, in Python floats")
def temperature_python_rows(logits, temperature):
    return softmax_python_rows(logits / temperature)


@slip(TEMPERATURE, "temperature multiplied")
def temperature_multiplied(logits, temperature):
    return stable_softmax(logits * temperature)


@slip(TEMPERATURE, "temperature ignored")
def temperature_ignored(logits, temperature):
    return torch.softmax(logits, dim=-1)


@slip(TEMPERATURE, "temperature applied after softmax")
def temperature_after(logits, temperature):
    return torch.softmax(logits, dim=-1) / temperature


@slip(TEMPERATURE, "softmax over the wrong axis")
def temperature_down_the_columns(logits, temperature):
    return torch.softmax(logits / temperature, dim=0)


@slip(TEMPERATURE, "no softmax")
def temperature_no_softmax(logits, temperature):
    return logits / temperature


@slip(TEMPERATURE, "no max-subtraction (overflow)")
def temperature_plain_exp(logits, temperature):
    exps = torch.exp(logits / temperature)
    return exps / exps.sum(dim=-1, keepdim=True)


@slip(TEMPERATURE, "subtracted the global maximum, not each row's (underflow)")
def temperature_minus_global_max(logits, temperature):
    scaled = logits / temperature
    exps = (scaled - float(scaled.max())).exp()
    return exps / exps.sum(dim=1, keepdim=True)


# --- chapter 02: the distribution at another temperature, from probabilities ----------------

SHARPEN = "check_sharpen"


@right(SHARPEN, "power 1/T, renormalised")
def sharpen_power(probabilities, temperature):
    powered = probabilities ** (1.0 / temperature)
    return powered / powered.sum(dim=-1, keepdim=True)


@right(SHARPEN, "log-probabilities as logits, one row at a time")
def sharpen_rows(probabilities, temperature):
    return torch.stack([torch.softmax(row.log() / temperature, dim=0) for row in probabilities])


@slip(SHARPEN, "raised to the power T, not 1/T")
def sharpen_power_t(probabilities, temperature):
    powered = probabilities**temperature
    return powered / powered.sum(dim=1, keepdim=True)


@slip(SHARPEN, "the probabilities used as logits")
def sharpen_as_logits(probabilities, temperature):
    return torch.softmax(probabilities / temperature, dim=-1)


@slip(SHARPEN, "not renormalised")
def sharpen_unnormalised(probabilities, temperature):
    return probabilities.pow(1 / temperature)


@slip(SHARPEN, "temperature ignored")
def sharpen_ignored(probabilities, temperature):
    return probabilities.clone()


@slip(SHARPEN, "log without the softmax")
def sharpen_log_only(probabilities, temperature):
    return probabilities.log() / temperature


# --- chapter 03: the causal mask -------------------------------------------------------------

CAUSAL = "check_causal_mask"


@right(CAUSAL, "nested loops")
def causal_loops(n):
    return torch.tensor([[key <= query for key in range(n)] for query in range(n)])


@right(CAUSAL, "tril of ones")
def causal_tril(n):
    return torch.ones(n, n).tril().bool()


def positions(n):
    return torch.arange(n)[:, None], torch.arange(n)[None, :]  # query i, key j


@slip(CAUSAL, "mask inverted")
def causal_inverted(n):
    query, key = positions(n)
    return key > query


@slip(CAUSAL, "diagonal excluded")
def causal_strict(n):
    query, key = positions(n)
    return key < query


@slip(CAUSAL, "upper triangle")
def causal_upper(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool))


@slip(CAUSAL, "size hard-coded")
def causal_five(n):
    return torch.tensor([[key <= query for key in range(5)] for query in range(5)])


# --- chapter 03: masked attention weights ----------------------------------------------------

MASKED = "check_masked_weights"


@right(MASKED, "torch.where")
def masked_where(scores, mask):
    return torch.softmax(torch.where(mask, scores, torch.tensor(float("-inf"))), dim=-1)


@right(MASKED, "one row at a time, over the allowed keys only")
def masked_per_row(scores, mask):
    weights = torch.zeros_like(scores)
    for row in range(scores.shape[0]):
        allowed = mask[row]
        weights[row, allowed] = stable_softmax(scores[row, allowed], dim=0)
    return weights


@slip(MASKED, "mask applied after softmax")
def masked_after_softmax(scores, mask):
    return torch.softmax(scores, dim=-1) * mask


@slip(MASKED, "mask inverted")
def masked_inverted(scores, mask):
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)


@slip(MASKED, "masked scores set to 0")
def masked_to_zero(scores, mask):
    return torch.softmax(scores * mask, dim=-1)


@slip(MASKED, "softmax over the wrong axis")
def masked_down_the_columns(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0)


@slip(MASKED, "no softmax")
def masked_no_softmax(scores, mask):
    return torch.where(mask, scores, float("-inf"))


# --- chapter 04: splitting into heads --------------------------------------------------------

SPLIT = "check_split_heads"


@right(SPLIT, "one block per head")
def split_blocks(x, num_heads):
    d_head = x.shape[-1] // num_heads
    return torch.stack([x[..., h * d_head : (h + 1) * d_head] for h in range(num_heads)], dim=1)


@right(SPLIT, "unflatten and permute")
def split_unflatten(x, num_heads):
    return x.unflatten(-1, (num_heads, -1)).permute(0, 2, 1, 3)


@slip(SPLIT, "heads split in the wrong order")
def split_reshape_straight(x, num_heads):
    batch, seq, d_model = x.shape
    return x.reshape(batch, num_heads, seq, d_model // num_heads)


@slip(SPLIT, "heads interleaved")
def split_every_h_th_feature(x, num_heads):
    return torch.stack([x[..., h::num_heads] for h in range(num_heads)], dim=1)


@slip(SPLIT, "transpose missing")
def split_without_transpose(x, num_heads):
    batch, seq, d_model = x.shape
    return x.reshape(batch, seq, num_heads, d_model // num_heads)


# --- chapter 04: multi-head cross-attention --------------------------------------------------

MULTI = "check_multi_head"


@right(MULTI, "one head at a time, on column blocks")
def multi_head_blocks(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    q, k, v = decoder @ w_q, encoder @ w_k, encoder @ w_v
    d_head = q.shape[-1] // num_heads
    heads = []
    for h in range(num_heads):
        block = slice(h * d_head, (h + 1) * d_head)
        scores = q[..., block] @ k[..., block].transpose(1, 2) / math.sqrt(d_head)
        heads.append(torch.softmax(scores, dim=-1) @ v[..., block])  # (batch, L_q, d_head)
    return torch.cat(heads, dim=-1) @ w_o


@right(MULTI, "einsum")
def multi_head_einsum(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    batch, l_q, d_model = decoder.shape
    d_head = d_model // num_heads
    q = (decoder @ w_q).reshape(batch, l_q, num_heads, d_head)
    k = (encoder @ w_k).reshape(batch, -1, num_heads, d_head)
    v = (encoder @ w_v).reshape(batch, -1, num_heads, d_head)
    weights = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q, k) / d_head**0.5, dim=-1)
    heads = torch.einsum("bhqk,bkhd->bqhd", weights, v)  # (batch, L_q, heads, d_head)
    return heads.reshape(batch, l_q, d_model) @ w_o


def split_right(x, num_heads):
    batch, seq, d_model = x.shape
    return x.view(batch, seq, num_heads, d_model // num_heads).transpose(1, 2)


def split_straight(x, num_heads):
    batch, seq, d_model = x.shape
    return x.reshape(batch, num_heads, seq, d_model // num_heads)


def merge_right(heads):
    batch, num_heads, seq, d_head = heads.shape
    return heads.transpose(1, 2).reshape(batch, seq, num_heads * d_head)


def merge_straight(heads):
    batch, num_heads, seq, d_head = heads.shape
    return heads.reshape(batch, seq, num_heads * d_head)


def cross_attention(
    q_from, kv_from, w_q, w_k, w_v, w_o, num_heads, split=split_right, merge=merge_right, scale=None
):
    """A reader's multi-head attention; the slips below change one of its lines each."""
    q = split(q_from @ w_q, num_heads)
    k = split(kv_from @ w_k, num_heads)
    v = split(kv_from @ w_v, num_heads)
    scale = math.sqrt(q.shape[-1]) if scale is None else scale
    heads = torch.softmax(q @ k.transpose(-2, -1) / scale, dim=-1) @ v
    return merge(heads) @ w_o


@slip(MULTI, "queries from the encoder")
def multi_head_queries_from_encoder(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    return cross_attention(encoder, decoder, w_q, w_k, w_v, w_o, num_heads)


@slip(MULTI, "keys and values from the decoder")
def multi_head_self_attention(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    return cross_attention(decoder, decoder, w_q, w_k, w_v, w_o, num_heads)


@slip(MULTI, "heads split in the wrong order")
def multi_head_split_straight(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    return cross_attention(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split=split_straight)


@slip(MULTI, "heads merged in the wrong order")
def multi_head_merge_straight(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    return cross_attention(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, merge=merge_straight)


@slip(MULTI, "heads split and merged in the wrong order")
def multi_head_both_straight(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    return cross_attention(
        decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_straight, merge_straight
    )


@slip(MULTI, "no output projection")
def multi_head_without_w_o(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    identity = torch.eye(w_o.shape[0])
    return cross_attention(decoder, encoder, w_q, w_k, w_v, identity, num_heads)


@slip(MULTI, "no scaling")
def multi_head_unscaled(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    return cross_attention(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, scale=1.0)


@slip(MULTI, "scaled by √d_model")
def multi_head_scaled_by_d_model(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, split_heads):
    scale = math.sqrt(decoder.shape[-1])
    return cross_attention(decoder, encoder, w_q, w_k, w_v, w_o, num_heads, scale=scale)


# --- chapter 05: layer norm ------------------------------------------------------------------

LAYER_NORM = "check_layer_norm"


@right(LAYER_NORM, "one row at a time, in Python floats")
def layer_norm_python_rows(x):
    rows = []
    for row in x.double().tolist():
        mean = sum(row) / len(row)
        variance = sum((value - mean) ** 2 for value in row) / len(row)
        rows.append([(value - mean) / math.sqrt(variance + 1e-5) for value in row])
    return torch.tensor(rows)


@right(LAYER_NORM, "var_mean and rsqrt")
def layer_norm_var_mean(x):
    variance, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
    return (x - mean) * torch.rsqrt(variance + 1e-5)


@slip(LAYER_NORM, "normalised over the wrong axis")
def layer_norm_columns(x):
    mean = x.mean(dim=0, keepdim=True)
    variance = ((x - mean) ** 2).mean(dim=0, keepdim=True)
    return (x - mean) / torch.sqrt(variance + 1e-5)


@slip(LAYER_NORM, "unbiased variance")
def layer_norm_unbiased(x):
    return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)


@slip(LAYER_NORM, "mean not subtracted")
def layer_norm_no_centring(x):
    mean = x.mean(-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(-1, keepdim=True)
    return x / torch.sqrt(variance + 1e-5)


@slip(LAYER_NORM, "divided by the variance")
def layer_norm_over_variance(x):
    mean = x.mean(-1, keepdim=True)
    variance = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / (variance + 1e-5)


@slip(LAYER_NORM, "no eps")
def layer_norm_without_eps(x):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / ((x - mean) ** 2).mean(-1, keepdim=True).sqrt()


@slip(LAYER_NORM, "eps outside the square root")
def layer_norm_eps_outside(x):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / (((x - mean) ** 2).mean(-1, keepdim=True).sqrt() + 1e-5)


# --- chapter 05: add & norm ------------------------------------------------------------------

ADD_NORM = "check_add_norm"


@right(ADD_NORM, "F.layer_norm")
def add_norm_functional(x, sublayer_out):
    total = x + sublayer_out
    return F.layer_norm(total, total.shape[-1:], eps=1e-5)


@right(ADD_NORM, "by hand")
def add_norm_by_hand(x, sublayer_out):
    return normalise_rows(x + sublayer_out)


@slip(ADD_NORM, "no residual")
def add_norm_no_residual(x, sublayer_out):
    return normalise_rows(sublayer_out)


@slip(ADD_NORM, "normalised before adding")
def add_norm_normalise_first(x, sublayer_out):
    return x + normalise_rows(sublayer_out)


@slip(ADD_NORM, "normalised the input only")
def add_norm_input_only(x, sublayer_out):
    return normalise_rows(x) + sublayer_out


@slip(ADD_NORM, "added without normalising")
def add_norm_no_norm(x, sublayer_out):
    return x + sublayer_out


# --- chapter 07: greedy decoding -------------------------------------------------------------

GREEDY = "check_greedy_decode"


@right(GREEDY, "a preallocated prefix")
@torch.no_grad()
def greedy_preallocated(model, source, bos, steps):
    tokens = torch.full((source.shape[0], steps + 1), bos, dtype=torch.long)
    for t in range(steps):
        tokens[:, t + 1] = model(source, tokens[:, : t + 1])[:, t].argmax(dim=-1)
    return tokens[:, 1:]


@right(GREEDY, "a list of chosen tokens")
@torch.no_grad()
def greedy_list(model, source, bos, steps):
    chosen = [torch.full((source.shape[0],), bos)]
    for _ in range(steps):
        logits = model(source, torch.stack(chosen, dim=1))  # (batch, t, vocab)
        chosen.append(logits[:, -1].argmax(dim=-1))
    return torch.stack(chosen[1:], dim=1)


@slip(GREEDY, "kept the begin token")
@torch.no_grad()
def greedy_with_bos(model, source, bos, steps):
    prefix = torch.full((source.shape[0], 1), bos)
    for _ in range(steps):
        token = model(source, prefix)[:, -1].argmax(-1)
        prefix = torch.cat([prefix, token[:, None]], dim=1)
    return prefix


@slip(GREEDY, "read the first position's logits")
@torch.no_grad()
def greedy_first_position(model, source, bos, steps):
    prefix = torch.full((source.shape[0], 1), bos)
    for _ in range(steps):
        token = model(source, prefix)[:, 0].argmax(-1)
        prefix = torch.cat([prefix, token[:, None]], dim=1)
    return prefix[:, 1:]


@slip(GREEDY, "output not fed back")
@torch.no_grad()
def greedy_not_fed_back(model, source, bos, steps):
    prefix = torch.full((source.shape[0], 1), bos)
    chosen = []
    for _ in range(steps):
        chosen.append(model(source, prefix)[:, -1].argmax(-1))
        prefix = torch.cat([prefix, torch.full((source.shape[0], 1), bos)], dim=1)
    return torch.stack(chosen, dim=1)


# --- chapter 07: the next token's probabilities ----------------------------------------------

NEXT = "check_next_token_probabilities"


@right(NEXT, "sort, then cut below the k-th")
def next_sorted(logits, temperature, top_k):
    kth = logits.sort(dim=-1, descending=True).values[:, top_k - 1 : top_k]  # (batch, 1)
    kept = torch.where(logits >= kth, logits / temperature, torch.tensor(float("-inf")))
    return torch.softmax(kept, dim=-1)


@right(NEXT, "scatter the top k into -inf")
def next_scattered(logits, temperature, top_k):
    values, indices = logits.topk(top_k, dim=-1)
    kept = torch.full_like(logits, float("-inf")).scatter(-1, indices, values / temperature)
    return torch.softmax(kept, dim=-1)


def keep_largest(logits, k):
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@slip(NEXT, "multiplied by the temperature")
def next_times_t(logits, temperature, top_k):
    return torch.softmax(keep_largest(logits, top_k) * temperature, dim=-1)


@slip(NEXT, "no temperature")
def next_no_t(logits, temperature, top_k):
    return torch.softmax(keep_largest(logits, top_k), dim=-1)


@slip(NEXT, "no top-k")
def next_no_top_k(logits, temperature, top_k):
    return torch.softmax(logits / temperature, dim=-1)


@slip(NEXT, "dropped logits set to 0")
def next_dropped_to_zero(logits, temperature, top_k):
    kth = logits.topk(top_k, dim=-1).values[:, -1:]
    kept = torch.where(logits >= kth, logits / temperature, torch.zeros_like(logits))
    return torch.softmax(kept, dim=-1)


@slip(NEXT, "top-k off by one (kept k + 1)")
def next_k_plus_one(logits, temperature, top_k):
    kth = logits.sort(dim=-1, descending=True).values[:, top_k : top_k + 1]  # index k, not k - 1
    return torch.softmax(logits.masked_fill(logits < kth, float("-inf")) / temperature, dim=-1)


@slip(NEXT, "top-k off by one (kept k - 1)")
def next_k_minus_one(logits, temperature, top_k):
    kth = logits.topk(top_k, dim=-1).values[:, -1:]
    return torch.softmax(logits.masked_fill(logits <= kth, float("-inf")) / temperature, dim=-1)


@slip(NEXT, "top-k not renormalised")
def next_not_renormalised(logits, temperature, top_k):
    probabilities = torch.softmax(logits / temperature, dim=-1)
    kth = logits.topk(top_k, dim=-1).values[:, -1:]
    return torch.where(logits >= kth, probabilities, torch.zeros_like(probabilities))


@slip(NEXT, "kept the k smallest")
def next_k_smallest(logits, temperature, top_k):
    kth = logits.topk(top_k, dim=-1, largest=False).values[:, -1:]
    return torch.softmax(logits.masked_fill(logits > kth, float("-inf")) / temperature, dim=-1)


# --- chapter 06: the encoder layer -----------------------------------------------------------

ENCODER = "check_encoder_layer"


def attend(layer, x):
    return layer.self_attention(x, x, x)[0]


@right(ENCODER, "the layer's parts")
def encoder_parts(layer, x):
    x = layer.norm1.norm(x + attend(layer, x))
    return layer.norm2.norm(x + layer.feed_forward(x))


@right(ENCODER, "from the weights, by hand")
def encoder_by_hand(layer, x):
    attention = layer.self_attention
    batch, seq, d_model = x.shape
    heads = attention.num_heads
    d_head = d_model // heads

    def project(linear, h):  # (batch, seq, d_model) -> (batch, heads, seq, d_head)
        return F.linear(h, linear.weight, linear.bias).reshape(batch, seq, heads, d_head)

    q, k, v = (project(linear, x) for linear in (attention.w_q, attention.w_k, attention.w_v))
    weights = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d_head), dim=-1)
    mixed = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, seq, d_model)
    attended = F.linear(mixed, attention.w_o.weight, attention.w_o.bias)

    def norm(add_norm, h):
        return F.layer_norm(h, (d_model,), add_norm.norm.weight, add_norm.norm.bias, eps=1e-5)

    x = norm(layer.norm1, x + attended)
    ff = layer.feed_forward
    hidden = torch.relu(F.linear(x, ff.linear1.weight, ff.linear1.bias))
    return norm(layer.norm2, x + F.linear(hidden, ff.linear2.weight, ff.linear2.bias))


@slip(ENCODER, "pre-norm instead of post-norm")
def encoder_pre_norm(layer, x):
    x = x + attend(layer, layer.norm1.norm(x))
    return x + layer.feed_forward(layer.norm2.norm(x))


@slip(ENCODER, "no residual around attention")
def encoder_no_attention_residual(layer, x):
    x = layer.norm1.norm(attend(layer, x))
    return layer.norm2.norm(x + layer.feed_forward(x))


@slip(ENCODER, "no residual around the feed-forward block")
def encoder_no_ff_residual(layer, x):
    x = layer.norm1.norm(x + attend(layer, x))
    return layer.norm2.norm(layer.feed_forward(x))


@slip(ENCODER, "feed-forward before the add & norm (on x + attention)")
def encoder_ff_on_the_sum(layer, x):
    x = x + attend(layer, x)
    ff = layer.feed_forward(x)  # computed before the norm below
    x = layer.norm1.norm(x)
    return layer.norm2.norm(x + ff)


@slip(ENCODER, "feed-forward before the add & norm (on the attention output)")
def encoder_ff_on_the_attention(layer, x):
    attended = attend(layer, x)
    ff = layer.feed_forward(attended)
    x = layer.norm1.norm(x + attended)
    return layer.norm2.norm(x + ff)


@slip(ENCODER, "one norm used twice")
def encoder_one_norm(layer, x):
    x = layer.norm1.norm(x + attend(layer, x))
    return layer.norm1.norm(x + layer.feed_forward(x))


# --- chapter 06: counting the encoder layer's parameters -------------------------------------

COUNT = "check_parameter_count"


@right(COUNT, "a list of every tensor's shape")
def count_shapes(d_model, d_ff):
    d, f = d_model, d_ff
    attention = [(d, d), (d,)] * 4  # W_Q, W_K, W_V, W_O with their biases
    feed_forward = [(f, d), (f,), (d, f), (d,)]
    norms = [(d,), (d,)] * 2  # a gain and a bias, twice
    return sum(math.prod(shape) for shape in attention + feed_forward + norms)


@right(COUNT, "counted from torch's own modules")
def count_torch_modules(d_model, d_ff):
    layer = torch.nn.ModuleList(
        [torch.nn.Linear(d_model, d_model, device="meta") for _ in range(4)]
        + [
            torch.nn.Linear(d_model, d_ff, device="meta"),
            torch.nn.Linear(d_ff, d_model, device="meta"),
        ]
        + [torch.nn.LayerNorm(d_model, device="meta") for _ in range(2)]
    )
    return sum(parameter.numel() for parameter in layer.parameters())


@slip(COUNT, "forgot the biases")
def count_without_biases(d_model, d_ff):
    return 4 * d_model**2 + 2 * d_model * d_ff + 2 * (2 * d_model)


@slip(COUNT, "forgot the layer norms")
def count_without_norms(d_model, d_ff):
    return 4 * (d_model**2 + d_model) + 2 * d_model * d_ff + d_ff + d_model


@slip(COUNT, "counted one attention matrix instead of four")
def count_one_projection(d_model, d_ff):
    return (d_model**2 + d_model) + 2 * d_model * d_ff + d_ff + d_model + 4 * d_model


@slip(COUNT, "counted one layer norm")
def count_one_norm(d_model, d_ff):
    return 4 * (d_model**2 + d_model) + 2 * d_model * d_ff + d_ff + d_model + 2 * d_model


# --- chapter 06: the teacher-forcing loss ----------------------------------------------------

LOSS = "check_teacher_forcing_loss"


def behind_bos(targets, bos):
    return torch.cat([torch.full((targets.shape[0], 1), bos), targets[:, :-1]], dim=1)


def mean_cross_entropy(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


@right(LOSS, "F.cross_entropy on the flattened tokens")
def loss_flattened(model, sources, targets, bos):
    return mean_cross_entropy(model(sources, behind_bos(targets, bos)), targets)


@right(LOSS, "log-probabilities picked out by hand")
def loss_by_hand(model, sources, targets, bos):
    log_probabilities = model(sources, behind_bos(targets, bos)).log_softmax(dim=-1)
    picked = log_probabilities.gather(-1, targets[..., None])[..., 0]  # (batch, L)
    return -picked.mean()


@slip(LOSS, "the decoder reads the answer")
def loss_reads_the_answer(model, sources, targets, bos):
    return mean_cross_entropy(model(sources, targets), targets)


@slip(LOSS, "scored against the decoder's input")
def loss_against_the_input(model, sources, targets, bos):
    decoder_in = behind_bos(targets, bos)
    return mean_cross_entropy(model(sources, decoder_in), decoder_in)


@slip(LOSS, "no begin token")
def loss_without_bos(model, sources, targets, bos):
    return mean_cross_entropy(model(sources, targets[:, :-1]), targets[:, 1:])


@slip(LOSS, "softmax before the cross-entropy")
def loss_of_probabilities(model, sources, targets, bos):
    probabilities = torch.softmax(model(sources, behind_bos(targets, bos)), dim=-1)
    return mean_cross_entropy(probabilities, targets)


@slip(LOSS, "the class axis not moved for F.cross_entropy")
def loss_classes_last(model, sources, targets, bos):
    logits = model(sources, behind_bos(targets, bos))  # (batch, length, vocab)
    return F.cross_entropy(logits, targets)  # raises: dimension 1 is read as the classes


@slip(LOSS, "summed instead of averaged")
def loss_summed(model, sources, targets, bos):
    logits = model(sources, behind_bos(targets, bos))
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")


# --- chapter 09: patchify --------------------------------------------------------------------

PATCHIFY = "check_patchify"


def patch_at(images, row, col, p):
    return images[:, :, row * p : (row + 1) * p, col * p : (col + 1) * p]  # (B, C, p, p)


@right(PATCHIFY, "one patch at a time")
def patchify_loop(images, p):
    batch, _, height, width = images.shape
    patches = [
        patch_at(images, row, col, p).reshape(batch, -1)
        for row in range(height // p)
        for col in range(width // p)
    ]
    return torch.stack(patches, dim=1)


@right(PATCHIFY, "F.unfold")
def patchify_unfold(images, p):
    return F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)


@slip(PATCHIFY, "patches flattened in the wrong order")
def patchify_plain_reshape(images, p):
    batch, channels, height, width = images.shape
    return images.reshape(batch, (height // p) * (width // p), channels * p * p)


@slip(PATCHIFY, "F.unfold reshaped, not transposed")
def patchify_unfold_reshaped(images, p):
    columns = F.unfold(images, kernel_size=p, stride=p)  # (B, C*p*p, N)
    return columns.reshape(images.shape[0], columns.shape[2], columns.shape[1])


@slip(PATCHIFY, "the channel axis left in front of the grid")
def patchify_channels_before_grid(images, p):
    batch, channels = images.shape[:2]
    blocks = images.unfold(2, p, p).unfold(3, p, p)  # (B, C, gh, gw, p, p)
    return blocks.reshape(batch, -1, channels * p * p)


@slip(PATCHIFY, "patches listed column by column")
def patchify_by_columns(images, p):
    batch, _, height, width = images.shape
    patches = [
        patch_at(images, row, col, p).reshape(batch, -1)
        for col in range(width // p)
        for row in range(height // p)
    ]
    return torch.stack(patches, dim=1)


@slip(PATCHIFY, "channels flattened last")
def patchify_channels_last(images, p):
    batch, _, height, width = images.shape
    patches = [
        patch_at(images, row, col, p).permute(0, 2, 3, 1).reshape(batch, -1)  # (B, p*p*C)
        for row in range(height // p)
        for col in range(width // p)
    ]
    return torch.stack(patches, dim=1)


# --- chapter 09: the strided convolution -----------------------------------------------------

CONV = "check_conv_embedding"


@right(CONV, "F.conv2d")
def conv_functional(images, weight, bias):
    p = weight.shape[-1]
    out = F.conv2d(images, weight, bias, stride=p)  # (B, d, gh, gw)
    return out.flatten(2).transpose(1, 2)


@right(CONV, "a linear map on each patch")
def conv_as_linear(images, weight, bias):
    p = weight.shape[-1]
    height, width = images.shape[-2:]
    rows = []
    for row in range(height // p):
        for col in range(width // p):
            patch = patch_at(images, row, col, p)  # (B, C, p, p)
            rows.append(torch.einsum("bcij,dcij->bd", patch, weight) + bias)
    return torch.stack(rows, dim=1)


@slip(CONV, "the sequence is not transposed")
def conv_not_transposed(images, weight, bias):
    return F.conv2d(images, weight, bias, stride=weight.shape[-1]).reshape(
        images.shape[0], weight.shape[0], -1
    )


@slip(CONV, "reshaped to (batch, N, D) instead of transposed")
def conv_reshaped_not_transposed(images, weight, bias):
    grid = F.conv2d(images, weight, bias, stride=weight.shape[-1])  # (B, D, gh, gw)
    batch, d_model, grid_h, grid_w = grid.shape
    return grid.view(batch, grid_h * grid_w, d_model)


@slip(CONV, "stride 1")
def conv_stride_one(images, weight, bias):
    return F.conv2d(images, weight, bias).flatten(2).transpose(1, 2)


@slip(CONV, "patches listed column by column")
def conv_by_columns(images, weight, bias):
    out = F.conv2d(images, weight, bias, stride=weight.shape[-1])  # (B, d, gh, gw)
    return out.permute(0, 3, 2, 1).reshape(images.shape[0], -1, weight.shape[0])


@slip(CONV, "no bias")
def conv_no_bias(images, weight, bias):
    return F.conv2d(images, weight, stride=weight.shape[-1]).flatten(2).transpose(1, 2)


# --- chapter 10: 2-D position codes ----------------------------------------------------------

CODES_2D = "check_codes_2d"


@right(CODES_2D, "one patch at a time")
def codes_2d_loop(row_codes, col_codes):
    return torch.stack([torch.cat([row, col]) for row in row_codes for col in col_codes])


@right(CODES_2D, "repeat_interleave and repeat")
def codes_2d_repeat(row_codes, col_codes):
    grid_h, grid_w = len(row_codes), len(col_codes)
    rows = row_codes.repeat_interleave(grid_w, dim=0)  # (gh*gw, d/2): r = i // gw
    cols = col_codes.repeat(grid_h, 1)  # (gh*gw, d/2): c = i % gw
    return torch.cat([rows, cols], dim=1)


@slip(CODES_2D, "the row and column halves swapped")
def codes_2d_column_half_first(row_codes, col_codes):
    return torch.stack([torch.cat([col, row]) for row in row_codes for col in col_codes])


@slip(CODES_2D, "patches listed column by column")
def codes_2d_by_columns(row_codes, col_codes):
    return torch.stack([torch.cat([row, col]) for col in col_codes for row in row_codes])


@slip(CODES_2D, "added instead of concatenated")
def codes_2d_added(row_codes, col_codes):
    return torch.stack([row + col for row in row_codes for col in col_codes])


# --- chapter 10: cosine similarity -----------------------------------------------------------

COSINE = "check_cosine_similarity"


@right(COSINE, "every pair in a loop")
def cosine_pairs(codes):
    n = codes.shape[0]
    return torch.tensor(
        [
            [float(codes[i].dot(codes[j]) / (codes[i].norm() * codes[j].norm())) for j in range(n)]
            for i in range(n)
        ]
    )


@right(COSINE, "F.normalize")
def cosine_normalised(codes):
    unit = F.normalize(codes, dim=1)
    return unit @ unit.T


@slip(COSINE, "dot products, not cosines")
def cosine_dot_products(codes):
    return torch.einsum("id,jd->ij", codes, codes)


@slip(COSINE, "normalised along the wrong axis")
def cosine_columns_normalised(codes):
    unit = codes / codes.norm(dim=0)
    return unit @ unit.T


@slip(COSINE, "Gram matrix of the features")
def cosine_features(codes):
    unit = codes / codes.norm(dim=1, keepdim=True)
    return unit.T @ unit


# --- chapter 10: stretching the codes to a new grid ------------------------------------------

STRETCH = "check_stretch_codes"


def resize_matrix(old, new, align_corners=False):
    """``(new, old)``: linear interpolation, written out (half-pixel centres by default)."""
    matrix = torch.zeros(new, old)
    for j in range(new):
        if align_corners:
            where = j * (old - 1) / (new - 1) if new > 1 else 0.0
        else:
            where = min(max((j + 0.5) * old / new - 0.5, 0.0), old - 1)
        left = min(int(where), old - 1)
        right_ = min(left + 1, old - 1)
        fraction = where - left
        matrix[j, left] += 1 - fraction
        matrix[j, right_] += fraction
    return matrix


def grid_interpolate(grid, new_grid, align_corners=False):
    """``(gh, gw, d)`` -> ``(nh, nw, d)``, down the rows then along the columns."""
    down = resize_matrix(grid.shape[0], new_grid[0], align_corners)
    along = resize_matrix(grid.shape[1], new_grid[1], align_corners)
    return torch.einsum("ar,rcd,bc->abd", down, grid, along)


@right(STRETCH, "F.interpolate")
def stretch_functional(codes, old_grid, new_grid):
    grid = codes.reshape(old_grid[0], old_grid[1], -1).permute(2, 0, 1)[None]  # (1, d, gh, gw)
    new = F.interpolate(grid, size=tuple(new_grid), mode="bilinear", align_corners=False)
    return new[0].permute(1, 2, 0).flatten(0, 1)  # (nh * nw, d)


@right(STRETCH, "resize matrices written out")
def stretch_by_hand(codes, old_grid, new_grid):
    grid = codes.reshape(old_grid[0], old_grid[1], -1)  # (gh, gw, d)
    return grid_interpolate(grid, new_grid).reshape(new_grid[0] * new_grid[1], -1)


@slip(STRETCH, "stretched as one line, not on the grid")
def stretch_one_line(codes, old_grid, new_grid):
    return resize_matrix(codes.shape[0], new_grid[0] * new_grid[1]) @ codes


@slip(STRETCH, "the old grid reshaped as (grid_w, grid_h)")
def stretch_old_grid_swapped(codes, old_grid, new_grid):
    grid_h, grid_w = old_grid
    grid = codes.reshape(grid_w, grid_h, -1).permute(1, 0, 2)  # (gh, gw, d), patches misplaced
    return grid_interpolate(grid, new_grid).reshape(new_grid[0] * new_grid[1], -1)


@slip(STRETCH, "the new grid flattened column by column")
def stretch_new_grid_by_columns(codes, old_grid, new_grid):
    grid = codes.reshape(old_grid[0], old_grid[1], -1)
    return grid_interpolate(grid, new_grid).transpose(0, 1).reshape(new_grid[0] * new_grid[1], -1)


@slip(STRETCH, "align_corners=True")
def stretch_corners_aligned(codes, old_grid, new_grid):
    grid = codes.reshape(old_grid[0], old_grid[1], -1).permute(2, 0, 1)[None]
    new = F.interpolate(grid, size=tuple(new_grid), mode="bilinear", align_corners=True)
    return new[0].permute(1, 2, 0).flatten(0, 1)


@slip(STRETCH, "reshaped to (1, d, grid_h, grid_w) without the transpose")
def stretch_reshaped_in(codes, old_grid, new_grid):
    channels_first = codes.reshape(1, codes.shape[1], *old_grid)  # no permute
    new = F.interpolate(channels_first, size=tuple(new_grid), mode="bilinear")
    return new[0].permute(1, 2, 0).reshape(-1, codes.shape[1])


@slip(STRETCH, "the stretched grid reshaped to (N, d) without the transpose")
def stretch_reshaped_out(codes, old_grid, new_grid):
    grid = codes.reshape(*old_grid, codes.shape[1]).permute(2, 0, 1).unsqueeze(0)
    new = F.interpolate(grid, size=tuple(new_grid), mode="bilinear")  # (1, d, nh, nw)
    return new.reshape(new_grid[0] * new_grid[1], codes.shape[1])  # no permute back


# --- chapter 10: rotary position codes -------------------------------------------------------

ROTARY = "check_rotary"


def rope_loop(x, angle):
    """Turn pair (2i, 2i+1) of row m by ``angle(m, i, d)``, one pair at a time."""
    seq, d = x.shape
    out = x.clone()
    for m in range(seq):
        for i in range(d // 2):
            cos, sin = math.cos(angle(m, i, d)), math.sin(angle(m, i, d))
            first, second = float(x[m, 2 * i]), float(x[m, 2 * i + 1])
            out[m, 2 * i] = first * cos - second * sin
            out[m, 2 * i + 1] = first * sin + second * cos
    return out


@right(ROTARY, "one pair at a time")
def rope_right_loop(x):
    return rope_loop(x, lambda m, i, d: m * 10000 ** (-2 * i / d))


@right(ROTARY, "complex numbers")
def rope_complex(x):
    seq, d = x.shape
    pairs = torch.complex(x[:, 0::2].double(), x[:, 1::2].double())  # (seq, d/2)
    theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    angles = torch.arange(seq, dtype=torch.float64)[:, None] * theta  # (seq, d/2)
    turned = pairs * torch.polar(torch.ones_like(angles), angles)
    return torch.stack([turned.real, turned.imag], dim=-1).flatten(1).float()  # (seq, d)


@slip(ROTARY, "rotated the wrong pairs of dimensions")
def rope_halves(x):
    seq, d = x.shape
    half = d // 2
    theta = 10000 ** (-2 * torch.arange(half) / d)
    angles = torch.arange(seq)[:, None] * theta  # (seq, d/2)
    first, second = x[:, :half], x[:, half:]
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)


@slip(ROTARY, "halves concatenated, not interleaved")
def rope_neighbours_written_as_halves(x):
    seq, d = x.shape
    theta = 10000 ** (-torch.arange(0, d, 2) / d)  # (d/2,)
    angles = torch.arange(seq)[:, None] * theta  # (seq, d/2)
    evens, odds = x[:, 0::2], x[:, 1::2]  # the right pairs (2i, 2i+1)
    cos, sin = angles.cos(), angles.sin()
    return torch.cat([evens * cos - odds * sin, evens * sin + odds * cos], dim=-1)


@slip(ROTARY, "angle is the position, not position × θ_i")
def rope_angle_position(x):
    return rope_loop(x, lambda m, i, d: m)


@slip(ROTARY, "angle θ_i without the position")
def rope_angle_theta(x):
    return rope_loop(x, lambda m, i, d: 10000 ** (-2 * i / d))


@slip(ROTARY, "turned the other way")
def rope_clockwise(x):
    return rope_loop(x, lambda m, i, d: -m * 10000 ** (-2 * i / d))


@slip(ROTARY, "frequencies 10000^(-i/d)")
def rope_slow_frequencies(x):
    return rope_loop(x, lambda m, i, d: m * 10000 ** (-i / d))


@slip(ROTARY, "positions counted from 1")
def rope_from_one(x):
    return rope_loop(x, lambda m, i, d: (m + 1) * 10000 ** (-2 * i / d))


# --- chapter 11: the ViT's input sequence ----------------------------------------------------

SEQUENCE = "check_input_sequence"


@right(SEQUENCE, "one image at a time")
def sequence_loop(patches, class_token, codes):
    return torch.stack([torch.cat([class_token[None], image]) + codes for image in patches])


@right(SEQUENCE, "expand and cat")
def sequence_expand(patches, class_token, codes):
    batch, _, d = patches.shape
    tokens = torch.cat([class_token.expand(batch, 1, d), patches], dim=1)
    return tokens + codes.expand(batch, -1, -1)


@slip(SEQUENCE, "the class token at the end")
def sequence_class_last(patches, class_token, codes):
    return torch.stack([torch.cat([image, class_token[None]]) + codes for image in patches])


@slip(SEQUENCE, "the class token left without a position")
def sequence_class_without_code(patches, class_token, codes):
    return torch.stack([torch.cat([class_token[None], image + codes[1:]]) for image in patches])


@slip(SEQUENCE, "codes shifted by one")
def sequence_codes_shifted(patches, class_token, codes):
    n = patches.shape[1]
    return torch.stack([torch.cat([class_token[None], image + codes[:n]]) for image in patches])


# --- chapter 11: the read-out ----------------------------------------------------------------

READ_OUT = "check_read_out"


@right(READ_OUT, "F.layer_norm and F.linear")
def read_out_functional(encoded, weight, bias):
    first = encoded[:, 0]
    return F.linear(F.layer_norm(first, first.shape[-1:]), weight, bias)


@right(READ_OUT, "einsum on a hand-made norm")
def read_out_einsum(encoded, weight, bias):
    return torch.einsum("bd,kd->bk", normalise_rows(encoded[:, 0]), weight) + bias


@slip(READ_OUT, "averaged every token")
def read_out_mean(encoded, weight, bias):
    return normalise_rows(encoded.mean(dim=1)) @ weight.T + bias


@slip(READ_OUT, "read the last token")
def read_out_last(encoded, weight, bias):
    return normalise_rows(encoded[:, -1]) @ weight.T + bias


@slip(READ_OUT, "no final layer norm")
def read_out_unnormalised(encoded, weight, bias):
    return encoded[:, 0] @ weight.T + bias


# --- chapter 11: attention rollout -----------------------------------------------------------

ROLLOUT = "check_rollout"


def residual_mix(layer_maps):
    """0.5 * head average + 0.5 * I, rows renormalised: ``(heads, T, T)`` -> ``(T, T)``."""
    mixed = 0.5 * layer_maps.mean(dim=0) + 0.5 * torch.eye(layer_maps.shape[-1])
    return mixed / mixed.sum(dim=-1, keepdim=True)


@right(ROLLOUT, "a loop, later layers on the left")
def rollout_loop(maps):
    result = torch.eye(maps.shape[-1])
    for layer_maps in maps:
        result = residual_mix(layer_maps) @ result
    return result


@right(ROLLOUT, "multi_dot of the reversed layers")
def rollout_multi_dot(maps):
    mixed = [residual_mix(layer_maps) for layer_maps in maps]
    return torch.linalg.multi_dot(mixed[::-1])


@slip(ROLLOUT, "the residual identity left out")
def rollout_no_identity(maps):
    result = torch.eye(maps.shape[-1])
    for layer_maps in maps:
        result = layer_maps.mean(dim=0) @ result
    return result


@slip(ROLLOUT, "layers multiplied in the wrong order")
def rollout_first_on_left(maps):
    result = torch.eye(maps.shape[-1])
    for layer_maps in maps:
        result = result @ residual_mix(layer_maps)
    return result


@slip(ROLLOUT, "A + I without renormalising")
def rollout_not_renormalised(maps):
    result = torch.eye(maps.shape[-1])
    for layer_maps in maps:
        result = (layer_maps.mean(dim=0) + torch.eye(maps.shape[-1])) @ result
    return result


@slip(ROLLOUT, "only the last layer")
def rollout_last_layer(maps):
    return residual_mix(maps[-1])


@slip(ROLLOUT, "heads summed instead of averaged")
def rollout_heads_summed(maps):
    result = torch.eye(maps.shape[-1])
    for layer_maps in maps:
        mixed = 0.5 * layer_maps.sum(dim=0) + 0.5 * torch.eye(maps.shape[-1])
        result = (mixed / mixed.sum(dim=-1, keepdim=True)) @ result
    return result


@slip(ROLLOUT, "heads fused by their maximum")
def rollout_heads_max(maps):
    result = torch.eye(maps.shape[-1])
    for layer_maps in maps:
        fused = layer_maps.max(dim=0).values  # the strongest head at every entry
        mixed = 0.5 * fused + 0.5 * torch.eye(maps.shape[-1])
        result = (mixed / mixed.sum(dim=-1, keepdim=True)) @ result
    return result


# --- chapter "From the Transformer to GPT": causal mask, top-p, one BPE merge ----------------

GPT_MASK = "check_gpt_causal_mask"


@right(GPT_MASK, "a comparison of positions")
def gpt_mask_compare(n):
    positions = torch.arange(n)
    return positions[None, :] <= positions[:, None]  # key j <= query i


@right(GPT_MASK, "a double loop")
def gpt_mask_loop(n):
    mask = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        for j in range(i + 1):
            mask[i, j] = True
    return mask


@slip(GPT_MASK, "off by one: a token cannot read itself")
def gpt_mask_strict(n):
    positions = torch.arange(n)
    return positions[None, :] < positions[:, None]


@slip(GPT_MASK, "upper triangle: reads the future")
def gpt_mask_triu(n):
    return torch.triu(torch.ones(n, n)).bool()


@slip(GPT_MASK, "True = blocked (torch's attn_mask convention)")
def gpt_mask_blocked(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)


@slip(GPT_MASK, "additive float mask (0 and -inf)")
def gpt_mask_additive(n):
    return torch.nn.Transformer.generate_square_subsequent_mask(n)


@slip(GPT_MASK, "0/1 numbers instead of bools")
def gpt_mask_ones(n):
    return torch.tril(torch.ones(n, n))


TOP_P = "check_top_p"


def nucleus_loop(row, top_p):
    """One row's nucleus, token by token in Python: (kept indices, their sum)."""
    order = sorted(range(len(row)), key=lambda i: -float(row[i]))
    kept, mass = [], 0.0
    for i in order:
        kept.append(i)
        mass += float(row[i])
        if mass >= top_p:
            break
    return kept, mass


@right(TOP_P, "a loop over the rows, in Python")
def top_p_rows(probabilities, top_p):
    flat = probabilities.reshape(-1, probabilities.shape[-1])  # (rows, vocab)
    out = torch.zeros_like(flat)
    for r, row in enumerate(flat):
        kept, mass = nucleus_loop(row, top_p)
        for i in kept:
            out[r, i] = row[i] / mass
    return out.reshape(probabilities.shape)


@right(TOP_P, "sort, mask, scatter back")
def top_p_scatter(probabilities, top_p):
    ordered, order = probabilities.sort(dim=-1, descending=True)
    remove = ordered.cumsum(dim=-1) > top_p
    remove[..., 1:] = remove[..., :-1].clone()  # shift right: keep the crossing token
    remove[..., 0] = False
    kept = ordered.masked_fill(remove, 0.0)
    kept = kept / kept.sum(dim=-1, keepdim=True)
    return torch.zeros_like(probabilities).scatter(-1, order, kept)


@slip(TOP_P, "not renormalised")
def top_p_unnormalised(probabilities, top_p):
    ordered, order = probabilities.sort(dim=-1, descending=True)
    keep = ordered.cumsum(dim=-1) - ordered < top_p
    return probabilities * keep.scatter(-1, order, keep)


@slip(TOP_P, "the token that crosses top_p dropped")
def top_p_strictly_below(probabilities, top_p):
    ordered, order = probabilities.sort(dim=-1, descending=True)
    kept = ordered.masked_fill(ordered.cumsum(dim=-1) > top_p, 0.0)  # no shift
    kept = kept / kept.sum(dim=-1, keepdim=True)
    return torch.zeros_like(probabilities).scatter(-1, order, kept)


@slip(TOP_P, "sorted ascending: kept the least probable")
def top_p_ascending(probabilities, top_p):
    ordered, order = torch.sort(probabilities, dim=-1)
    keep = ordered.cumsum(dim=-1) - ordered < top_p
    kept = ordered * keep
    kept = kept / kept.sum(dim=-1, keepdim=True)
    return torch.zeros_like(probabilities).scatter(-1, order, kept)


@slip(TOP_P, "no sort before the running total")
def top_p_unsorted(probabilities, top_p):
    keep = probabilities.cumsum(dim=-1) - probabilities < top_p
    kept = probabilities * keep
    return kept / kept.sum(dim=-1, keepdim=True)


@slip(TOP_P, "left in sorted order")
def top_p_sorted_result(probabilities, top_p):
    ordered, _ = probabilities.sort(dim=-1, descending=True)
    keep = ordered.cumsum(dim=-1) - ordered < top_p
    kept = ordered * keep
    return kept / kept.sum(dim=-1, keepdim=True)


@slip(TOP_P, "renormalised with a softmax")
def top_p_softmax_again(probabilities, top_p):
    ordered, order = probabilities.sort(dim=-1, descending=True)
    keep = ordered.cumsum(dim=-1) - ordered < top_p
    keep = keep.scatter(-1, order, keep)
    return torch.softmax(probabilities.masked_fill(~keep, float("-inf")), dim=-1)


MERGE = "check_bpe_merge"


@right(MERGE, "a while loop")
def merge_while(ids, pair, new_id):
    ids, merged, i = ids.tolist(), [], 0
    while i < len(ids):
        if ids[i : i + 2] == list(pair):
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return torch.tensor(merged)


@right(MERGE, "on a string of pieces")
def merge_by_text(ids, pair, new_id):
    # Each id as one private-use character: a pair becomes a two-character substring, and
    # str.replace replaces non-overlapping occurrences left to right, as a merge does.
    text = "".join(chr(0xE000 + i) for i in ids.tolist())
    joined = text.replace(chr(0xE000 + pair[0]) + chr(0xE000 + pair[1]), chr(0xE000 + new_id))
    return torch.tensor([ord(c) - 0xE000 for c in joined])


@slip(MERGE, "only the first occurrence merged")
def merge_first_only(ids, pair, new_id):
    ids = ids.tolist()
    for i in range(len(ids) - 1):
        if ids[i] == pair[0] and ids[i + 1] == pair[1]:
            return torch.tensor([*ids[:i], new_id, *ids[i + 2 :]])
    return torch.tensor(ids)


@slip(MERGE, "the pair's second token kept")
def merge_no_skip(ids, pair, new_id):
    ids, merged, i = ids.tolist(), [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            merged.append(new_id)
        else:
            merged.append(ids[i])
        i += 1  # forgot to skip the second token
    return torch.tensor(merged)


@slip(MERGE, "merged from the right")
def merge_right_to_left(ids, pair, new_id):
    ids, merged, i = ids.tolist(), [], len(ids) - 1
    while i >= 0:
        if i > 0 and (ids[i - 1], ids[i]) == pair:
            merged.insert(0, new_id)
            i -= 2
        else:
            merged.insert(0, ids[i])
            i -= 1
    return torch.tensor(merged)


@slip(MERGE, "overlapping occurrences merged")
def merge_overlapping(ids, pair, new_id):
    ids = ids.tolist()
    starts = [i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) == pair]
    seconds = {i + 1 for i in starts}
    out = [new_id if i in starts else token for i, token in enumerate(ids)]
    return torch.tensor([token for i, token in enumerate(out) if i not in seconds])


@slip(MERGE, "pair read in the wrong order")
def merge_reversed(ids, pair, new_id):
    ids, merged, i = ids.tolist(), [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[1] and ids[i + 1] == pair[0]:
            merged.append(new_id)
            i += 2
        else:
            merged.append(ids[i])
            i += 1
    return torch.tensor(merged)


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checker", "mistake"), [pytest.param(*key, id=f"{key[0]}: {key[1]}") for key in SLIPS]
)
def test_a_hand_written_slip_is_named_by_its_checker(checker, mistake):
    result = getattr(checks, checker)(SLIPS[(checker, mistake)])
    assert not result.passed, result.message
    assert result.message.startswith(f"{mistake}: "), result.message


FORMS = [(checker, form) for checker, forms in RIGHT_FORMS.items() for form in forms]


@pytest.mark.parametrize(
    ("checker", "form"), [pytest.param(*key, id=f"{key[0]}: {key[1]}") for key in FORMS]
)
def test_a_right_answer_passes_in_each_of_its_forms(checker, form):
    result = getattr(checks, checker)(RIGHT_FORMS[checker][form])
    assert result.passed, result.message
    assert result.message == EXERCISES[checker].success


def test_every_mistake_has_a_hand_written_slip():
    named = {
        (exercise.name, mistake.name)
        for exercise in EXERCISES.values()
        for mistake in exercise.mistakes
    }
    assert sorted(named - SLIPS.keys()) == [], "mistakes without a hand-written slip here"
    assert sorted(SLIPS.keys() - named) == [], "slips here for mistakes the checkers lost"


def test_every_checker_has_two_right_answers_here():
    assert sorted(name for name in EXERCISES if len(RIGHT_FORMS.get(name, {})) < 2) == []
    assert set(RIGHT_FORMS) <= set(EXERCISES)


@pytest.mark.parametrize("checker", sorted(EXERCISES))
def test_no_two_mistakes_of_a_checker_share_a_name(checker):
    names = [mistake.name for mistake in EXERCISES[checker].mistakes]
    assert len(names) == len(set(names))
