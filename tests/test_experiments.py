"""The chapters' experiments: each measurement shows what its chapter says it shows."""

import pytest
import torch

from lessons_lib.experiments import gradient_norms_per_layer, scaling_experiment


def test_scaling_experiment_shows_why_attention_divides_by_sqrt_dk():
    d_ks = [1, 16, 256, 1024]
    result = scaling_experiment(d_ks, n_keys=16, n_trials=256, seed=0)
    assert set(result) >= {"score_variance", "entropy_scaled", "grad_unscaled"}
    dims = torch.tensor(d_ks, dtype=torch.float64)
    assert ((result["score_variance"] / dims - 1).abs() < 0.2).all()  # Var(q·k) = d_k
    # With the scaling the entropy and the gradient stay put; without, both collapse.
    assert result["entropy_scaled"].max() - result["entropy_scaled"].min() < 0.3
    assert (result["entropy_unscaled"].diff() < 0).all()
    assert result["entropy_unscaled"][-1] < 0.2 * result["entropy_scaled"][-1]
    assert result["grad_unscaled"][-1] < 1e-3 * result["grad_scaled"][-1]
    assert (result["max_weight_unscaled"][1:] > result["max_weight_scaled"][1:]).all()
    # d_k = 1: scaling divides by 1, so both columns agree exactly.
    assert result["entropy_scaled"][0] == result["entropy_unscaled"][0]


def test_scaling_experiment_is_seeded_and_checks_input():
    first, second = scaling_experiment([4, 8], seed=3), scaling_experiment([4, 8], seed=3)
    assert all(torch.equal(first[name], second[name]) for name in first)
    with pytest.raises(TypeError, match=r"d_ks must be a non-empty list of ints, got \[\]"):
        scaling_experiment([])
    with pytest.raises(ValueError, match=r"d_k must be > 0, got 0"):
        scaling_experiment([4, 0])


def test_gradient_vanishes_without_residuals_and_not_with_them():
    without = gradient_norms_per_layer(16, residual=False)
    with_residuals = gradient_norms_per_layer(16, residual=True)
    assert without.shape == with_residuals.shape == (16,)
    assert without[0] < 1e-6 * without[-1]  # shrinks on the way down
    assert with_residuals[0] > 0.5 * with_residuals[-1]  # arrives about as strong
    assert (without[:8] < with_residuals[:8]).all()


def test_gradient_norms_are_seeded_and_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = gradient_norms_per_layer(4, seed=7)
    assert torch.equal(torch.rand(1), before)
    assert torch.equal(first, gradient_norms_per_layer(4, seed=7))
    assert not torch.equal(first, gradient_norms_per_layer(4, seed=8))
    with pytest.raises(ValueError, match="depth must be > 0"):
        gradient_norms_per_layer(0)
