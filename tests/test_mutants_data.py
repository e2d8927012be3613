"""The data module's edges: written to kill the mutants that the project's first mutation tool (on
data; ``make mutate`` now runs mutmut), and then mutmut, found surviving the module's own tests.

Expected values are worked out by hand from the docstrings (the reversal task's defaults, the
rejection sampler's 100 rounds, ...) or read from scikit-learn's own loaders, never copied from
a run. Refusals are matched from the message's start, so that each names its own argument. The
bundled files are read with scikit-learn's loaders made unimportable, which shows that they are
found where scikit-learn keeps them; small fakes (a portrait photograph, int32 digit labels)
reach the branches that the bundled files cannot.
"""

from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lessons_lib import data
from lessons_lib.data import (
    DATE_FORMATS,
    FIRST_DATE,
    ISO_FIELD_SPANS,
    DateTask,
    ImageSet,
    MarkPositionTask,
    ReversalTask,
    format_date,
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


@pytest.mark.parametrize("tokens", [[5.0], [0.5], [True]], ids=["float", "fraction", "bool"])
def test_decode_refuses_tokens_that_are_not_integer_ids(tokens):
    with pytest.raises(TypeError, match=r"^tokens must hold integer token ids, got dtype torch\."):
        DateTask().decode(torch.tensor(tokens))


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


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: ReversalTask().sample(2, 0),
            TypeError,
            r"generator must be a torch\.Generator, e\.g\. torch\.Generator\(\)\.manual_seed\(0\), "
            r"got int$",
        ),
        (lambda: ReversalTask(n_digits=0), ValueError, r"n_digits must be > 0, got 0$"),
        (
            lambda: ReversalTask().batches(0, torch.Generator()),
            ValueError,
            r"batch_size must be > 0, got 0$",
        ),
        (
            lambda: shift_right([[5, 1, 4]], bos=10),
            TypeError,
            r"targets must be a torch\.Tensor, got list$",
        ),
        (
            lambda: DateTask(validation_fraction=0.5, test_fraction=0.5),
            ValueError,
            r"validation_fraction \+ test_fraction must be below 1 to leave training dates, "
            r"got 0\.5 \+ 0\.5$",
        ),
        (lambda: DateTask(pad="0"), TypeError, r"pad must be an int, got str$"),
        (
            lambda: DateTask(target_length="10"),
            TypeError,
            r"target_length must be an int, got str$",
        ),
        (
            lambda: DateTask().batches(0, torch.Generator()),
            ValueError,
            r"batch_size must be > 0, got 0$",
        ),
        (
            lambda: DateTask().decode([2, 3]),
            TypeError,
            r"tokens must be a torch\.Tensor, got list$",
        ),
        (lambda: DateTask().encode(["May"], length=0), ValueError, r"length must be > 0, got 0$"),
        (
            lambda: ImageSet(torch.zeros(2, 1, 2, 2), [0, 1], ("a", "b")),
            TypeError,
            r"labels must be a torch\.Tensor, got list$",
        ),
        (
            lambda: ImageSet(torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.long), ("a",)),
            ValueError,
            r"an ImageSet needs images \(n, channels, H, W\) and labels \(n,\), "
            r"got \(3, 8, 8\) and \(3,\)$",
        ),
        (
            lambda: ImageSet(torch.zeros(2, 1, 2, 2), torch.tensor([0, 2]), ("a", "b")),
            ValueError,
            r"labels run from 0 to 2, but there are 2 class_names: each label must lie in 0\.\.1$",
        ),
        (
            lambda: ImageSet(
                torch.zeros(0, 1, 2, 2), torch.zeros(0, dtype=torch.long), ("a",)
            ).batches(2, torch.Generator()),
            ValueError,
            r"this ImageSet holds no images, so there is nothing to draw from$",
        ),
        (lambda: load_sample_photo(0), ValueError, r"size must be > 0, got 0$"),
    ],
    ids=[
        "generator",
        "n_digits",
        "reversal-batch_size",
        "targets",
        "fractions",
        "pad",
        "target_length",
        "date-batch_size",
        "tokens",
        "length",
        "labels",
        "image-shape",
        "label-range",
        "empty-set",
        "size",
    ],
)
def test_each_refusal_begins_with_the_name_of_what_was_wrong(call, error, message):
    with pytest.raises(error, match="^" + message):
        call()


def test_without_scikit_learn_the_whole_message_is_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # find_spec answers None: not installed
    hint = "the digits and the sample photographs ship with scikit-learn: pip install scikit-learn"
    with pytest.raises(ImportError, match=f"^{re.escape(hint)}$"):
        data._sklearn_file("data", "digits.csv.gz")


@pytest.mark.parametrize("held_out", [False, True])
def test_a_split_that_stays_short_says_which_split_in_the_whole_message(monkeypatch, held_out):
    """Training: one digit of one kind is always held out, so 100 rounds find nothing. Held out:
    one digit of 7 kinds is held out when it is 0; with one round allowed, a seed whose round of
    4 holds no 0 leaves a batch of 1 empty."""
    if held_out:
        monkeypatch.setattr(data, "MAX_DRAWS", 1)
        task, split, rounds = ReversalTask(length=1, n_digits=7), "held-out", 1
        for seed in range(100):
            reference = torch.Generator().manual_seed(seed)
            if not (torch.randint(0, 7, (4, 1), generator=reference) == 0).any():
                break
        else:
            pytest.fail("no seed below 100 gives a first round without a 0")
    else:
        task, split, rounds, seed = ReversalTask(length=1, n_digits=1), "training", 100, 0
    message = (
        f"found only 0 {split} sequences in {rounds} draws of 4: with length=1 and "
        f"n_digits={task.n_digits} almost no digit sums fall in that split; "
        "use more digits or another length"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        task.sample(1, torch.Generator().manual_seed(seed), held_out=held_out)


def test_the_digit_sum_runs_over_the_last_axis_whatever_comes_before():
    task = ReversalTask(length=2)
    assert task.is_held_out(torch.tensor([3, 4])).item() is True  # one sequence: 3 + 4 = 7
    stacked = torch.tensor([[[3, 4], [1, 5]], [[0, 0], [6, 2]]])  # (2 batches, 2, length 2)
    expected = torch.tensor([[True, False], [True, False]])  # sums 7, 6 / 0, 8
    assert torch.equal(task.is_held_out(stacked), expected)


def test_the_long_date_style_marks_where_the_weekday_stands():
    """27 November 2026 is a Friday (the formats' own example), so 23..29 November run from
    Monday to Sunday."""
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    for day, name in zip(range(23, 30), names):
        text, spans = format_date(datetime.date(2026, 11, day), "Friday, November 27th 2026")
        assert spans["weekday"] == (0, len(name)) and text.startswith(f"{name}, November {day}")


def test_an_empty_list_of_dates_still_gives_long_token_ids():
    """torch.tensor([]) would be float32: each tensor names its dtype even with no rows."""
    task = DateTask()
    tokens, lengths = task.encode([])
    longest = len("Wednesday, September 30th 2026")
    assert tokens.shape == (0, longest) and tokens.dtype == torch.long
    assert lengths.shape == (0,) and lengths.dtype == torch.long
    batch = task.make_batch([], [])
    assert [tensor.dtype for tensor in batch] == [torch.long] * 5
    assert batch.sources.shape == (0, longest) and batch.targets.shape == (0, 10)
    assert batch.days.shape == batch.styles.shape == (0,)


def test_an_odd_number_of_patches_is_refused_even_past_float_precision():
    """2 * (2**53 + 1) pixels in patches of 2 is 2**53 + 1 patches across: odd, though a float
    division would round it to the even 2**53."""
    size = 2 * (2**53 + 1)
    with pytest.raises(ValueError, match=rf"^image_size \({size}\) must split into an even number"):
        MarkPositionTask(image_size=size, patch_size=2)


@pytest.fixture(scope="module")
def sklearn_datasets():
    """scikit-learn's own loaders: the reference for the files that lessons_lib reads itself."""
    import sklearn.datasets

    return sklearn.datasets


def test_the_bundled_files_are_read_without_scikit_learns_loaders(monkeypatch, sklearn_datasets):
    digits = sklearn_datasets.load_digits()
    photos = {
        name: sklearn_datasets.load_sample_image(name) for name in ("china.jpg", "flower.jpg")
    }
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # its loaders cannot be imported
    images, labels = data._digits_arrays()
    assert images.shape == (1797, 8, 8) and np.array_equal(images, digits.images)
    assert labels.dtype == digits.target.dtype and np.array_equal(labels, digits.target)
    for name, photo in photos.items():
        assert np.array_equal(data._sample_image(name), photo)


def test_sklearn_file_names_a_file_in_scikit_learns_datasets_folder_or_none(sklearn_datasets):
    folder = Path(sklearn_datasets.__file__).parent
    assert data._sklearn_file("data", "digits.csv.gz") == folder / "data" / "digits.csv.gz"
    assert data._sklearn_file("images", "china.jpg") == folder / "images" / "china.jpg"
    assert data._sklearn_file("images", "no-such-photo.jpg") is None
    assert data._sklearn_file("images") is None  # a folder, not a file


def test_digit_pixels_become_float32_and_labels_long_whatever_the_arrays_hold(monkeypatch):
    """Ten fake digits whose pixels all equal their label, labels int32 (as numpy's int is on
    some platforms): each image must come out as label / 16 in float32, with a long label."""
    labels = np.arange(10, dtype=np.int32)
    pixels = np.broadcast_to(labels[:, None, None], (10, 8, 8)).astype(np.float64)
    monkeypatch.setattr(data, "_digits_arrays", lambda: (pixels, labels))
    splits = load_digits_split(test_fraction=0.2, validation_fraction=0.1)
    assert [len(split) for split in splits] == [7, 1, 2]
    seen = []
    for split in splits:
        assert split.images.dtype == torch.float32 and split.labels.dtype == torch.long
        expected = (split.labels.float() / 16.0)[:, None, None, None].expand(-1, 1, 8, 8)
        assert torch.equal(split.images, expected)
        seen += split.labels.tolist()
    assert sorted(seen) == list(range(10))  # every digit in exactly one split
    monkeypatch.undo()
    assert load_digits_split()[0].images.dtype == torch.float32  # the real, float64 pixels too


def test_the_flower_photo_is_accepted_and_cut_to_its_middle_square(sklearn_datasets):
    flower = torch.tensor(sklearn_datasets.load_sample_image("flower.jpg")).permute(2, 0, 1)
    square = flower[:, :, 106:533].float() / 255.0  # 427 x 640: the central 427 columns
    assert torch.allclose(load_sample_photo(427, name="flower.jpg"), square)  # no resizing


@pytest.mark.parametrize(("height", "width"), [(12, 4), (4, 12)])
def test_the_middle_square_of_a_tall_or_wide_photo_is_cut_out(monkeypatch, height, width):
    """A fake 12 x 4 (or 4 x 12) photograph: the middle 4 x 4 square starts 4 pixels in."""
    pixels = np.arange(height * width * 3, dtype=np.uint8).reshape(height, width, 3)
    monkeypatch.setattr(data, "_sample_image", lambda name: pixels)
    middle = pixels[4:8] if height > width else pixels[:, 4:8]
    expected = torch.tensor(middle).permute(2, 0, 1).float() / 255.0  # (3, 4, 4)
    assert torch.allclose(load_sample_photo(4), expected)  # no resizing at 4 x 4
