"""The GPT chapter's checkers beyond what every checker is tested for (tests/test_checks.py):
their cases show the slips they name, and the BPE merge reference is right."""

from __future__ import annotations

import random

import pytest
import torch

from lessons_lib.checks import check_bpe_merge, check_gpt_causal_mask, check_top_p
from lessons_lib.checks.gpt import BPE_MERGE, TOP_P, merge_pair
from lessons_lib.decoding import nucleus


def merged_by_text(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """An independent merge: ids as characters, then str.replace (left to right, no overlap)."""
    text = "".join(chr(0xE000 + i) for i in ids)
    joined = text.replace(chr(0xE000 + pair[0]) + chr(0xE000 + pair[1]), chr(0xE000 + new_id))
    return [ord(character) - 0xE000 for character in joined]


@pytest.mark.parametrize("seed", range(30))
def test_merge_pair_agrees_with_string_replacement(seed):
    rng = random.Random(seed)
    ids = [rng.randrange(3) for _ in range(rng.randrange(0, 15))]
    pair = (rng.randrange(3), rng.randrange(3))
    result = merge_pair(torch.tensor(ids, dtype=torch.long), pair, 7)
    assert result.dtype == torch.long
    assert result.tolist() == merged_by_text(ids, pair, 7)


def test_merge_pair_on_the_textbook_examples():
    a, b = 1, 2
    assert merge_pair(torch.tensor([a, a, a]), (a, a), 9).tolist() == [9, a]
    assert merge_pair(torch.tensor([a, a, a, a]), (a, a), 9).tolist() == [9, 9]
    assert merge_pair(torch.tensor([b, a, b, a]), (a, b), 9).tolist() == [b, 9, a]
    assert merge_pair(torch.tensor([a]), (a, a), 9).tolist() == [a]


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (([1, 2], (1, 2), 3), TypeError, "ids must be a torch.Tensor"),
        ((torch.tensor([1.0, 2.0]), (1, 2), 3), TypeError, "integer token ids"),
        ((torch.tensor([[1, 2]]), (1, 2), 3), ValueError, "ids must have 1 dimensions"),
        ((torch.tensor([1, 2]), (1, 2, 3), 3), TypeError, "pair must be two token ids"),
        ((torch.tensor([1, 2]), (1, 2.0), 3), TypeError, "each id of pair must be an int"),
        ((torch.tensor([1, 2]), (1, 2), "3"), TypeError, "new_id must be an int"),
    ],
)
def test_merge_pair_refuses_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        merge_pair(*arguments)


def test_the_merge_cases_hold_the_runs_and_reversed_pairs_the_slips_need():
    cases = BPE_MERGE.cases()
    texts = [case.args[0].tolist() for case in cases]
    pairs = [case.args[1] for case in cases]
    odd_run = any(
        pair[0] == pair[1] and ids[i : i + 3] == [pair[0]] * 3
        for ids, pair in zip(texts, pairs)
        for i in range(len(ids))
    )
    reversed_pair = any(
        pair[0] != pair[1] and [pair[1], pair[0]] == ids[i : i + 2]
        for ids, pair in zip(texts, pairs)
        for i in range(len(ids))
    )
    assert odd_run and reversed_pair
    new_ids = {case.args[2] for case in cases}
    assert all(new_id not in ids for new_id in new_ids for ids in texts)  # a fresh id


def test_a_merge_that_changes_ids_in_place_passes_with_a_note():
    def merge_in_place(ids, pair, new_id):
        answer = merge_pair(ids, pair, new_id)
        ids.zero_()
        return answer

    result = check_bpe_merge(merge_in_place)
    assert result.passed
    assert "your function changed `ids` in place" in result.message


def test_a_merge_returned_as_a_list_is_told_to_return_a_tensor():
    result = check_bpe_merge(lambda ids, pair, new_id: merge_pair(ids, pair, new_id).tolist())
    assert not result.passed and "expected a torch.Tensor, got list" in result.message


def test_the_top_p_cases_have_no_ties_no_sorted_rows_and_a_crossing_token_after_the_first():
    for case in TOP_P.cases():
        probabilities, top_p = case.args
        ordered = probabilities.sort(dim=-1, descending=True).values
        assert (ordered[..., 0] < top_p).all()  # the nucleus holds two tokens or more
        assert ((ordered.cumsum(dim=-1) - top_p).abs() > 5e-3).all()  # no partial sum near p
        assert (ordered[..., :-1] - ordered[..., 1:] > 1e-4).all()  # no ties
        assert not torch.equal(ordered, probabilities)  # not given sorted
        assert torch.allclose(probabilities.sum(-1), torch.ones(()))


def test_top_p_in_float64_and_per_row_passes():
    def per_row(probabilities, top_p):
        rows = probabilities.double().reshape(-1, probabilities.shape[-1])  # (rows, vocab)
        return torch.stack([nucleus(row, top_p) for row in rows]).reshape(probabilities.shape)

    assert check_top_p(per_row).passed


def test_a_0_1_mask_of_another_integer_dtype_is_told_to_be_bool():
    result = check_gpt_causal_mask(lambda n: torch.ones(n, n, dtype=torch.uint8).tril())
    assert not result.passed
    assert result.message.startswith("0/1 numbers instead of bools: ")
