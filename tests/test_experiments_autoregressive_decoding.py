"""Chapter 07's experiment: beam sizes compared on dates; sequences scored by teacher forcing."""

import pytest
import torch

from lessons_lib.data import DateTask
from lessons_lib.decoding import beam_search, greedy_decode
from lessons_lib.experiments.autoregressive_decoding import (
    compare_beam_sizes,
    sequence_log_probabilities,
)
from lessons_lib.transformer import Transformer


@pytest.fixture(scope="module")
def setup():
    task = DateTask()
    torch.manual_seed(0)
    model = Transformer(task.vocab_size, d_model=16, num_heads=2, num_layers=1, d_ff=32)
    with torch.no_grad():
        model.output.weight.mul_(4)  # sharper, more varied choices than at init
    batch = task.sample(40, torch.Generator().manual_seed(0))
    return model.eval(), task, batch


def test_each_beam_size_keeps_what_beam_search_chose(setup):
    model, task, batch = setup
    comparison = compare_beam_sizes(model, batch, task.bos, (1, 3))
    mask = batch.source_mask
    greedy = greedy_decode(model, batch.sources, task.bos, steps=10, source_mask=mask)
    assert torch.equal(comparison.tokens[0], greedy)  # beam 1 is greedy decoding
    wide = beam_search(model, batch.sources, task.bos, 3, steps=10, source_mask=mask)
    assert torch.equal(comparison.tokens[1], wide.tokens)
    for index in range(2):
        scored = sequence_log_probabilities(
            model, batch.sources, comparison.tokens[index], task.bos, mask
        )
        assert torch.allclose(comparison.log_probability[index], scored.sum(-1), atol=1e-4)
    right = torch.tensor(
        [
            [task.decode(row) == task.decode(want) for row, want in zip(tokens, batch.targets)]
            for tokens in comparison.tokens
        ]
    )
    assert torch.equal(comparison.right, right)
    assert torch.allclose(comparison.exact_match, right.float().mean(1))
    assert torch.allclose(comparison.mean_log_probability, comparison.log_probability.mean(1))
    changed = comparison.changed(3)
    assert torch.equal(changed, (wide.tokens != greedy).any(1))
    assert changed.any()  # the example must exercise a beam that differs from greedy
    # where the wider beam changed the answer, it found a more probable sequence
    gain = comparison.log_probability[1] - comparison.log_probability[0]
    assert torch.all(gain[changed] > 0)


def test_sequence_log_probabilities_are_each_tokens_log_probability():
    torch.manual_seed(1)
    model = Transformer(11, d_model=16, num_heads=2, num_layers=1, d_ff=32).train()
    sources, sequences = torch.randint(0, 10, (3, 5)), torch.randint(0, 10, (3, 4))
    scores = sequence_log_probabilities(model, sources, sequences, bos=10)
    assert model.training  # the mode is given back
    model.eval()
    with torch.no_grad():  # step by step, the decoder given the true prefix
        memory = model.encode(sources)
        for t in range(4):
            prefix = torch.cat([torch.full((3, 1), 10), sequences[:, :t]], dim=1)
            log_p = torch.log_softmax(model.decode(prefix, memory)[:, -1], -1)
            expected = log_p.gather(1, sequences[:, t : t + 1])[:, 0]
            assert torch.allclose(scores[:, t], expected, atol=1e-5)
    assert torch.all(scores <= 0)
    with pytest.raises(ValueError, match=r"got shapes \(3, 5\) and \(2, 4\)"):
        sequence_log_probabilities(model, sources, sequences[:2], bos=10)


def test_bad_beam_sizes_and_batches_are_refused(setup):
    model, task, batch = setup
    with pytest.raises(ValueError, match=r"must hold 1 \(greedy\) and no size twice, got \(2, 4\)"):
        compare_beam_sizes(model, batch, task.bos, (2, 4))
    with pytest.raises(ValueError, match=r"got \(1, 2, 2\)"):
        compare_beam_sizes(model, batch, task.bos, (1, 2, 2))
    with pytest.raises(TypeError, match="batch must be a DateBatch, got Tensor"):
        compare_beam_sizes(model, batch.sources, task.bos)
