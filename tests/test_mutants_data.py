"""The data module's edges: written to kill the mutants that the project's first mutation tool (on
data; ``make mutate`` now runs mutmut) found surviving the module's own tests.

Expected values are worked out by hand from the docstrings (the reversal task's defaults, the
rejection sampler's 100 rounds, ...), never copied from a run.
"""

from __future__ import annotations

import datetime

import pytest
import torch

from lessons_lib.data import (
    DATE_FORMATS,
    FIRST_DATE,
    ISO_FIELD_SPANS,
    DateTask,
    ImageSet,
    MarkPositionTask,
    ReversalTask,
    iso_date,
    load_digits_split,
    load_sample_photo,
    shift_right,
)


def test_the_reversal_defaults_are_eight_digits_of_ten_kinds():
    task = ReversalTask()
    assert (task.length, task.n_digits) == (8, 10)
    assert (task.bos, task.vocab_size) == (10, 11)  # the digits 0..9, then bos
    sources, _ = task.sample(4, torch.Generator().manual_seed(0))
    assert sources.shape == (4, 8)


def test_a_split_that_cannot_be_filled_gives_up_after_100_rounds_of_4_per_example():
    """One digit of one kind: every digit sum is 0, a multiple of 7, so every sequence is
    held out and the training split stays empty however long the sampler draws."""
    task = ReversalTask(length=1, n_digits=1)
    with pytest.raises(ValueError, match=r"found only 0 training sequences in 100 draws of 12"):
        task.sample(3, torch.Generator().manual_seed(0))


def test_a_generator_that_is_not_a_torch_generator_is_refused_by_name():
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator.*got int"):
        ReversalTask().sample(2, 0)


@pytest.mark.parametrize("n_digits", [0, -1])
def test_no_digits_are_refused_by_name(n_digits):
    with pytest.raises(ValueError, match="n_digits"):
        ReversalTask(n_digits=n_digits)


def test_held_out_sequences_are_those_whose_digit_sum_is_a_multiple_of_7():
    sources = torch.tensor([[3, 4], [1, 5], [0, 0], [7, 7], [6, 2], [9, 5]])
    # digit sums 7, 6, 0, 14, 8, 14: multiples of 7 are 7, 0 and 14
    expected = torch.tensor([True, False, True, True, False, True])
    assert torch.equal(ReversalTask(length=2).is_held_out(sources), expected)


def test_every_digit_from_0_to_n_digits_minus_1_appears():
    sources, _ = ReversalTask(length=8, n_digits=10).sample(64, torch.Generator().manual_seed(0))
    assert set(sources.flatten().tolist()) == set(range(10))  # 512 draws of 10 digits


def test_the_sampler_stops_at_the_round_that_finds_exactly_enough():
    """One digit of 7 kinds, held out when it is 0: a round of 4 candidates that holds exactly
    one 0 fills a batch of 1, and the sampler must stop there, drawing no second round."""
    task = ReversalTask(length=1, n_digits=7)
    for seed in range(100):
        reference = torch.Generator().manual_seed(seed)
        first_round = torch.randint(0, 7, (4, 1), generator=reference)
        if int((first_round == 0).sum()) == 1:
            break
    else:
        pytest.fail("no seed below 100 gives a first round with exactly one 0")
    generator = torch.Generator().manual_seed(seed)
    sources, _ = task.sample(1, generator, held_out=True)
    assert sources.tolist() == [[0]]
    assert torch.equal(generator.get_state(), reference.get_state())  # one round drawn


def test_reversal_batches_are_successive_samples_and_bad_input_is_refused_at_once():
    task = ReversalTask(length=5)
    batches = task.batches(3, torch.Generator().manual_seed(1))
    reference = torch.Generator().manual_seed(1)
    for _ in range(3):  # the stream goes on: each batch is the next sample of the split
        sources, targets = next(batches)
        expected_sources, expected_targets = task.sample(3, reference)
        assert torch.equal(sources, expected_sources) and torch.equal(targets, expected_targets)
    # Refused when asked for, not at the first next(): batches() checks before it returns.
    with pytest.raises(ValueError, match="batch_size"):
        task.batches(0, torch.Generator())
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        task.batches(2, None)


def test_shift_right_refuses_a_single_row_and_float_targets_by_name():
    with pytest.raises(ValueError, match=r"targets must have 2 dimensions \(batch, length\)"):
        shift_right(torch.tensor([5, 1, 4]), bos=10)
    with pytest.raises(TypeError, match=r"targets must hold token ids.*float32"):
        shift_right(torch.tensor([[5.0, 1.0, 4.0]]), bos=10)
    int32 = torch.tensor([[5, 1, 4]], dtype=torch.int32)  # int32 ids are accepted
    assert shift_right(int32, bos=10).tolist() == [[10, 5, 1]]


def test_the_iso_field_spans_cover_the_target_but_its_two_hyphens():
    iso = iso_date(datetime.date(2026, 11, 27))
    pieces = {field: iso[start:end] for field, (start, end) in ISO_FIELD_SPANS.items()}
    assert pieces == {"year": "2026", "month": "11", "day": "27"}
    covered = sorted(i for start, end in ISO_FIELD_SPANS.values() for i in range(start, end))
    assert covered == [i for i in range(len(iso)) if iso[i] != "-"]  # every other character


@pytest.mark.parametrize("date", ["2026-11-27", 20261127, None])
def test_iso_date_refuses_what_is_not_a_date_by_name(date):
    with pytest.raises(TypeError, match=r"date must be a datetime.date, got"):
        iso_date(date)


def test_the_default_date_splits_hold_a_tenth_each_for_validation_and_test():
    """1969..2068 is 100 years with 25 leap days (1972, ..., 2068; 2000 is one): 36,525 days.
    A tenth is 3,652.5, which round() takes to the even 3,652."""
    assert (datetime.date(2068, 12, 31) - datetime.date(1969, 1, 1)).days + 1 == 36_525
    task = DateTask()
    assert (task.validation_fraction, task.test_fraction) == (0.1, 0.1)
    sizes = {split: len(task.split_days(split)) for split in ("train", "validation", "test")}
    assert sizes == {"train": 36_525 - 2 * 3_652, "validation": 3_652, "test": 3_652}


@pytest.mark.parametrize("seed", ["0", 1.5])
def test_a_split_seed_that_is_not_an_int_is_refused_when_the_task_is_built(seed):
    with pytest.raises(TypeError, match="split_seed"):
        DateTask(split_seed=seed)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pad", 2, r"pad must be 0, the id of '<pad>'"),
        ("bos", 0, r"bos must be 1, the id of '<bos>'"),
        ("target_length", 9, r"target_length must be at least 10"),
    ],
)
def test_a_date_task_with_another_layout_is_refused_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        DateTask(**{field: value})


def test_a_target_length_of_exactly_an_iso_date_is_accepted():
    assert DateTask(target_length=10).target_length == 10  # "YYYY-MM-DD"


def test_the_vocabulary_is_pad_bos_and_one_id_per_character():
    task = DateTask()
    assert task.vocab_size == len(task.token_names) == 2 + len(set(task.characters))
    tokens, _ = task.encode([task.characters], length=len(task.characters))
    assert tokens.tolist() == [list(range(2, task.vocab_size))]  # the last id is vocab_size - 1


def test_decode_refuses_ids_outside_the_vocabulary_by_name():
    task = DateTask()
    last = task.vocab_size - 1
    assert task.decode(torch.tensor([1, last])) == task.characters[-1]  # bos is not written
    for token in (task.vocab_size, -1):
        with pytest.raises(
            ValueError, match=rf"token {token} is outside 0..vocab_size-1 = 0..{last}"
        ):
            task.decode(torch.tensor([token]))


def test_make_batch_wants_one_style_per_date():
    date, style = datetime.date(2026, 11, 27), DATE_FORMATS[0]
    with pytest.raises(ValueError, match=r"need one style per date, got 1 dates, 2 styles"):
        DateTask().make_batch([date], [style, style])


def test_a_split_of_one_day_gives_that_day_every_time():
    """A test fraction of 1/36,525 rounds to a test split of exactly one day."""
    task = DateTask(test_fraction=1 / 36_525)
    (only_day,) = task.split_days("test").tolist()
    batch = task.sample(3, torch.Generator().manual_seed(0), split="test")
    assert batch.days.tolist() == [only_day] * 3
    assert batch.date(0) == FIRST_DATE + datetime.timedelta(days=only_day)


def test_date_sampling_refuses_bad_counts_and_generators_when_asked():
    task = DateTask()
    with pytest.raises(ValueError, match=r"\bn\b"):
        task.sample(0, torch.Generator())
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        task.sample(2, 0)
    with pytest.raises(ValueError, match="batch_size"):
        task.batches(0, torch.Generator())
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        task.batches(2, None)


def test_an_image_set_refuses_float_labels_by_name():
    with pytest.raises(TypeError, match=r"labels must be class ids \(torch.long\).*float32"):
        ImageSet(torch.zeros(2, 1, 2, 2), torch.tensor([0.0, 1.0]), ("a", "b"))


@pytest.mark.parametrize("names", ["ab", 2])
def test_an_image_set_wants_a_tuple_of_class_names(names):
    with pytest.raises(TypeError, match=r"class_names must be a tuple of names"):
        ImageSet(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), names)


@pytest.mark.parametrize(("labels", "low", "high"), [([0, 2], 0, 2), ([-1, 1], -1, 1)])
def test_labels_past_either_end_of_the_class_names_are_refused(labels, low, high):
    """Two class names allow labels 0 and 1: one label too high, or one too low, is enough."""
    with pytest.raises(ValueError, match=rf"labels run from {low} to {high}, but there are 2"):
        ImageSet(torch.zeros(2, 1, 2, 2), torch.tensor(labels), ("a", "b"))


def test_a_one_image_set_draws_its_image_and_an_empty_set_is_refused_at_once():
    image = torch.rand(1, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    one = ImageSet(image, torch.tensor([1]), ("a", "b"))
    images, labels = next(one.batches(3, torch.Generator().manual_seed(0)))
    assert torch.equal(images, image.expand(3, 1, 2, 2)) and labels.tolist() == [1, 1, 1]
    empty = ImageSet(torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.long), ("a",))
    with pytest.raises(ValueError, match="this ImageSet holds no images"):
        empty.batches(2, torch.Generator())
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        one.batches(2, None)


def test_the_digits_split_defaults_to_seed_0_and_ten_digit_classes():
    default, seeded, other = (
        load_digits_split(),
        load_digits_split(seed=0),
        load_digits_split(seed=1),
    )
    assert torch.equal(default.test.images, seeded.test.images)
    assert not torch.equal(default.test.images, other.test.images)
    assert default.train.class_names == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_a_digits_validation_fraction_outside_0_1_is_refused_by_name(fraction):
    with pytest.raises(ValueError, match="validation_fraction must lie strictly between 0 and 1"):
        load_digits_split(validation_fraction=fraction)


def test_the_sample_photo_defaults_to_the_vit_papers_224_pixels():
    assert load_sample_photo().shape == (3, 224, 224)


def test_the_mark_task_noise_defaults_to_a_tenth():
    task = MarkPositionTask()
    assert task.noise == 0.1
    images = task.sample(64, torch.Generator().manual_seed(0)).images  # (64, 1, 8, 8)
    noise = images[images < 1.0]  # the marks are exactly 1 (2x2 marks are solid)
    assert noise.numel() == 64 * (64 - 4)
    assert 0.09 < float(noise.max()) < 0.1  # 3,840 uniform draws in [0, 0.1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("image_size", 0), ("image_size", -4), ("patch_size", 0), ("patch_size", -2)],
)
def test_a_mark_task_with_no_pixels_or_no_patch_is_refused_by_name(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be"):
        MarkPositionTask(**{field: value})


def test_mark_noise_of_one_is_refused_and_zero_is_allowed():
    with pytest.raises(ValueError, match=r"noise must lie in \[0, 1\), got 1.0"):
        MarkPositionTask(noise=1.0)
    assert MarkPositionTask(noise=0.0).noise == 0.0


def test_marks_land_on_every_row_and_column_of_patches():
    images = MarkPositionTask().sample(256, torch.Generator().manual_seed(0)).images
    marked = (images[:, 0] == 1.0).nonzero()  # (pixels, 3): image, y, x of each mark pixel
    assert set((marked[:, 1] // 2).tolist()) == {0, 1, 2, 3}  # patch rows of a 4x4 grid
    assert set((marked[:, 2] // 2).tolist()) == {0, 1, 2, 3}  # patch columns


def test_mark_sampling_refuses_bad_counts_and_generators_by_name():
    with pytest.raises(ValueError, match=r"\bn\b"):
        MarkPositionTask().sample(0, torch.Generator())
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator"):
        MarkPositionTask().sample(2, None)
