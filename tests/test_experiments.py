"""The chapters' experiments: each measurement shows what its chapter says it shows."""

import pytest
import torch

from lessons_lib.experiments.add_norm import gradient_norms_per_layer
from lessons_lib.experiments.cross_attention import gru_step_by_step, time_gru_and_attention
from lessons_lib.experiments.softmax import scaling_experiment


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
    with pytest.raises(ValueError, match="num_layers must be > 0"):
        gradient_norms_per_layer(0)


# --- chapter 04: a GRU against self-attention ---------------------------------------------


def test_gru_step_by_step_equals_torch_gru_and_counts_one_step_per_token():
    torch.manual_seed(0)
    gru = torch.nn.GRU(6, 10, batch_first=True)
    inputs = torch.randn(3, 7, 6)
    outputs, steps = gru_step_by_step(gru, inputs)
    assert steps == 7
    torch.testing.assert_close(outputs, gru(inputs)[0], atol=1e-5, rtol=0)


def test_gru_step_by_step_bad_input():
    with pytest.raises(TypeError, match=r"one-layer nn.GRU with batch_first=True"):
        gru_step_by_step(torch.nn.GRU(4, 4), torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match=r"inputs must have 3 dimensions \(batch, n, d_in\)"):
        gru_step_by_step(torch.nn.GRU(4, 4, batch_first=True), torch.randn(3, 4))


def test_time_gru_and_attention_counts_and_times():
    result = time_gru_and_attention([4, 16], d_model=8, batch=2, repeats=2, progress=False)
    assert result["lengths"] == [4, 16]
    assert result["gru_steps"] == [4, 16] and result["attention_steps"] == [1, 1]
    assert result["gru_path"] == [3, 15] and result["attention_path"] == [1, 1]
    assert result["gru_macs"] == [6 * 4 * 64, 6 * 16 * 64]
    assert result["attention_macs"] == [4 * 4 * 64 + 2 * 16 * 8, 4 * 16 * 64 + 2 * 256 * 8]
    assert all(ms > 0 for ms in result["gru_ms"] + result["attention_ms"])


def test_time_gru_and_attention_bad_input():
    with pytest.raises(TypeError, match=r"lengths must be a non-empty list of ints, got \[\]"):
        time_gru_and_attention([])
    with pytest.raises(ValueError, match=r"length must be > 0, got 0"):
        time_gru_and_attention([0, 4])
    with pytest.raises(TypeError, match=r"d_model must be an int, got float"):
        time_gru_and_attention([4], d_model=8.0)


# --- chapter 11: the ViT against a CNN ---------------------------------------------------


def test_training_subset_is_seeded_and_sized():
    from lessons_lib.data import ImageSet
    from lessons_lib.experiments.vit_scale import training_subset

    data = ImageSet(
        torch.arange(20.0).reshape(20, 1, 1, 1), torch.arange(20), tuple(map(str, range(20)))
    )
    first, again = training_subset(data, 5, seed=3), training_subset(data, 5, seed=3)
    assert len(first) == 5 and torch.equal(first.labels, again.labels)
    assert len(set(first.labels.tolist())) == 5  # without replacement
    assert not torch.equal(first.labels, training_subset(data, 5, seed=4).labels)
    assert len(training_subset(data, 20, seed=0)) == 20
    with pytest.raises(ValueError, match=r"size must be at most the 20 training images, got 21"):
        training_subset(data, 21, seed=0)


def test_summarise_runs_gives_mean_and_spread_per_size():
    from lessons_lib.experiments.vit_scale import summarise_runs

    summary = summarise_runs({200: [0.8, 0.9, 0.7], 50: [0.5]})
    assert summary["sizes"] == [50, 200]
    assert summary["mean"] == pytest.approx([0.5, 0.8])
    assert summary["low"] == [0.5, 0.7] and summary["high"] == [0.5, 0.9]
    with pytest.raises(ValueError, match=r"at least one score"):
        summarise_runs({50: []})


def test_compare_vit_and_cnn_scores_every_size_seed_and_model():
    from lessons_lib.data import load_digits_split
    from lessons_lib.experiments.vit_scale import compare_vit_and_cnn

    train, validation, test = load_digits_split()
    settings = dict(sizes=(20, 40), seeds=(0, 1), eval_every=2, patience=1, max_steps=4)
    sweep = compare_vit_and_cnn(train, validation, test, progress=False, **settings)
    assert set(sweep) == {"test", "train", "steps"}
    for measure, by_model in sweep.items():
        assert set(by_model) == {"ViT", "CNN"}
        for by_size in by_model.values():
            assert set(by_size) == {20, 40}
            for values in by_size.values():
                assert len(values) == 2
                if measure == "steps":
                    assert all(step in (0, 2, 4) for step in values)  # an evaluation's step
                else:
                    assert all(0 <= value <= 1 for value in values)
    again = compare_vit_and_cnn(train, validation, test, progress=False, **settings)
    assert again == sweep  # seeded
    with pytest.raises(ValueError, match=r"sizes must name at least one"):
        compare_vit_and_cnn(train, validation, test, sizes=(), progress=False)


def test_train_to_best_keeps_the_weights_of_the_best_validation_accuracy():
    from lessons_lib.data import load_digits_split
    from lessons_lib.experiments.vit_scale import training_subset
    from lessons_lib.metrics import classification_accuracy
    from lessons_lib.training import seeded, train_to_best
    from lessons_lib.vit import DIGITS_VIT, ViT

    train, validation, _ = load_digits_split()
    subset = training_subset(train, 30, seed=0)  # few images: validation accuracy soon stalls
    model = seeded(0, lambda: ViT(**DIGITS_VIT))
    start = classification_accuracy(model, validation)
    run = train_to_best(model, subset, validation, lr=1e-2, eval_every=20, patience=3)
    assert run.stopped_early and run.steps == run.best_step + 3 * 20
    assert run.best_step > 0 and run.validation_accuracy > start
    # the model holds the kept weights: its accuracy is the best one, not the last one's
    assert classification_accuracy(model, validation) == run.validation_accuracy
    capped = seeded(0, lambda: ViT(**DIGITS_VIT))
    short = train_to_best(capped, train, validation, eval_every=10, patience=50, max_steps=30)
    assert short.steps == 30 and not short.stopped_early
    with pytest.raises(ValueError, match=r"max_steps \(5\) must be at least eval_every \(10\)"):
        train_to_best(capped, train, validation, eval_every=10, max_steps=5)
    with pytest.raises(ValueError, match=r"patience must be > 0, got 0"):
        train_to_best(capped, train, validation, patience=0)


# --- chapter 05: initialisation, the norm's place and warm-up --------------------------------


def test_a_variance_preserving_init_keeps_the_gradient_that_the_default_loses():
    from lessons_lib.experiments.add_norm import gradient_norms_per_layer

    default = gradient_norms_per_layer(16, residual=False, init="default")
    kaiming = gradient_norms_per_layer(16, residual=False, init="kaiming")
    assert default[0] / default[-1] < 1e-3  # PyTorch's default: vanished
    assert 0.3 < kaiming[0] / kaiming[-1] < 3  # the same stack, variance kept: about 1
    per_block = (default[-1] / default[0]) ** (1 / 15)
    assert 3 < per_block < 4.5  # the "factor of about 4" per block
    with_residuals = gradient_norms_per_layer(16, residual=True, init="kaiming")
    assert 0.3 < with_residuals[0] / with_residuals[-1] < 3
    with pytest.raises(
        ValueError, match=r"init must be one of \('default', 'kaiming'\), got 'xavier'"
    ):
        gradient_norms_per_layer(4, init="xavier")


def test_variance_preserving_init_keeps_the_mean_square_and_zeroes_the_biases():
    from lessons_lib.experiments.add_norm import variance_preserving_init
    from lessons_lib.residual import FeedForward

    torch.manual_seed(0)
    block = variance_preserving_init(FeedForward(128, 256))
    x = torch.randn(2048, 128)
    default = FeedForward(128, 256)
    with torch.no_grad():
        kept = float(block(x).pow(2).mean() / x.pow(2).mean())
        default.linear1.bias.zero_()
        default.linear2.bias.zero_()
        kept_by_default = float(default(x).pow(2).mean() / x.pow(2).mean())
    assert 0.85 < kept < 1.15
    assert block.linear1.bias.abs().max() == 0 and block.linear2.bias.abs().max() == 0
    assert kept_by_default < 0.1  # about 1/18


def test_encoder_stack_is_post_or_pre_norm_and_writes_one_token_per_position():
    from lessons_lib.residual import LayerNorm
    from lessons_lib.transformer import EncoderStack

    tokens = torch.randint(0, 11, (3, 6))
    post = EncoderStack(11, length=6, num_layers=2)
    pre = EncoderStack(11, length=6, num_layers=2, norm_first=True)
    assert post(tokens).shape == pre(tokens).shape == (3, 6, 11)
    assert not post.layers[0].norm_first and pre.layers[1].norm_first
    assert isinstance(pre.final_norm, LayerNorm) and isinstance(post.final_norm, torch.nn.Identity)


def test_warmup_runs_are_seeded_and_warm_up_changes_only_the_rate():
    from lessons_lib.experiments.add_norm import WarmupRecipe, final_losses, warmup_experiment

    recipe = WarmupRecipe(steps=4, warmup_steps=4)
    first = warmup_experiment(seeds=[0, 1], recipe=recipe, progress=False)
    assert first == warmup_experiment(seeds=[0, 1], recipe=recipe, progress=False)
    assert set(first) == {"post-norm", "post-norm + warm-up", "pre-norm", "pre-norm + warm-up"}
    assert all(len(runs) == 2 and len(runs[0]) == 4 for runs in first.values())
    # Same weights and batches: the first loss is the same with and without warm-up...
    assert first["post-norm"][0][0] == first["post-norm + warm-up"][0][0]
    # ...and the later ones differ, because the first step was smaller.
    assert first["post-norm"][0][1] != first["post-norm + warm-up"][0][1]
    assert first["post-norm"][0] != first["post-norm"][1]  # another seed, another run
    assert final_losses({"a": [[3.0, 2.0, 1.0]]}, last=2) == {"a": [1.5]}
    with pytest.raises(TypeError, match=r"seeds must be a non-empty list of ints, got \[\]"):
        warmup_experiment(seeds=[])
    with pytest.raises(ValueError, match="last must be > 0, got 0"):
        final_losses(first, last=0)


def test_post_norm_without_warm_up_stays_near_chance_where_the_others_learn():
    from lessons_lib.experiments.add_norm import final_losses, warmup_experiment

    finals = final_losses(warmup_experiment(seeds=[0], progress=False))
    assert finals["post-norm"][0] > 1.5  # ln 10 = 2.30 is a uniform guess
    for setting in ("post-norm + warm-up", "pre-norm", "pre-norm + warm-up"):
        assert finals[setting][0] < 0.6, setting


def test_post_norm_gives_the_layers_near_the_output_larger_gradients_at_init():
    from lessons_lib.experiments.add_norm import gradient_norms_at_init

    post = gradient_norms_at_init(24, norm_first=False, seeds=[0, 1])
    pre = gradient_norms_at_init(24, norm_first=True, seeds=[0, 1])
    assert post.shape == pre.shape == (24,)
    assert post[-1] > 1.5 * pre[-1]  # Xiong et al. (2020): large near the output
    assert post[-4:].mean() > post[:4].mean()  # and growing towards it
    assert pre[-4:].mean() < pre[:4].mean()
    assert torch.equal(post, gradient_norms_at_init(24, norm_first=False, seeds=[0, 1]))


# --- chapter 10: spread over seeds, and codes stretched to larger images -------------------


def test_compare_position_codes_trains_each_run_to_its_best_on_validation():
    from lessons_lib.data import load_digits_split
    from lessons_lib.experiments.position_codes import DIGITS_POSITIONS_VIT, compare_position_codes
    from lessons_lib.metrics import classification_accuracy

    train, validation, test = load_digits_split()
    kinds, seeds = ("none", "2d"), (0, 1)
    settings = dict(steps=20, eval_every=5, patience=4, validation=validation, progress=False)
    best_steps: dict[str, list[int]] = {}
    scores, models = compare_position_codes(
        train, test, kinds, seeds, best_steps=best_steps, **settings, **DIGITS_POSITIONS_VIT
    )
    assert list(scores) == list(best_steps) == list(kinds) and list(models) == list(kinds)
    for kind in kinds:
        assert len(scores[kind]) == len(best_steps[kind]) == len(seeds)
        assert all(0 <= score <= 1 for score in scores[kind])
        assert all(step in (0, 5, 10, 15, 20) for step in best_steps[kind])
        # the seed-0 model holds its best weights, and they gave the test score reported
        assert classification_accuracy(models[kind], test) == scores[kind][0]
    again, _ = compare_position_codes(train, test, kinds, seeds, **settings, **DIGITS_POSITIONS_VIT)
    assert again == scores  # seeded
    # the kept weights are those after best_step steps: a fixed run that long scores the same
    kind = next(k for k in kinds if best_steps[k][0] > 0)
    fixed, _ = compare_position_codes(
        train, test, (kind,), (0,), steps=best_steps[kind][0], progress=False,
        **DIGITS_POSITIONS_VIT,
    )  # fmt: skip
    assert fixed[kind][0] == scores[kind][0]


def test_upsample_images_copies_each_pixel_into_a_block():
    from lessons_lib.data import ImageSet
    from lessons_lib.experiments.vit_scale import upsample_images

    images = torch.arange(8.0).reshape(2, 1, 2, 2)
    data = ImageSet(images, torch.tensor([0, 1]), ("a", "b"))
    larger = upsample_images(data, 3)
    assert larger.images.shape == (2, 1, 6, 6)
    assert torch.equal(larger.images[1, 0, 3:, :3], torch.full((3, 3), 6.0))
    assert torch.equal(larger.labels, data.labels)
    with pytest.raises(ValueError, match="factor"):
        upsample_images(data, 0)


def test_evaluate_stretched_scores_before_and_after_for_each_trained_kind():
    from lessons_lib.data import MarkPositionTask
    from lessons_lib.experiments.vit_scale import STRETCHES, evaluate_stretched
    from lessons_lib.metrics import classification_accuracy
    from lessons_lib.training import seeded_vit

    test = MarkPositionTask().sample(64, torch.Generator().manual_seed(1))
    small = dict(image_size=8, patch_size=2, d_model=16, num_layers=1, num_heads=2, num_classes=4)
    models = {kind: seeded_vit(0, positions=kind, **small) for kind in ("none", "1d")}
    results = evaluate_stretched(models, test)
    assert list(results) == [label for label, (kind, _) in STRETCHES.items() if kind in models]
    for label, (before, after) in results.items():
        assert before == classification_accuracy(models[STRETCHES[label][0]], test)
        assert 0.0 <= after <= 1.0
