"""Data: the sequence tasks' splits and shapes (image sets are tested further down)."""

import datetime
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.data import (
    DATE_FORMATS,
    FIRST_DATE,
    ISO_FIELD_SPANS,
    LAST_DATE,
    DateBatch,
    DateTask,
    ReversalTask,
    format_date,
    iso_date,
    shift_right,
)


def test_reversal_targets_are_reversed_sources_and_splits_are_disjoint():
    task = ReversalTask(length=6)
    generator = torch.Generator().manual_seed(0)
    train_sources, train_targets = task.sample(256, generator)
    test_sources, _ = task.sample(64, generator, held_out=True)
    assert train_sources.shape == (256, 6) and train_sources.dtype == torch.long
    assert torch.equal(train_targets, train_sources.flip(1))
    assert not task.is_held_out(train_sources).any()
    assert task.is_held_out(test_sources).all()
    assert int(train_sources.max()) < task.bos == task.vocab_size - 1


def test_sampling_is_seeded():
    task = ReversalTask()
    first = task.sample(8, torch.Generator().manual_seed(3))[0]
    again = task.sample(8, torch.Generator().manual_seed(3))[0]
    assert torch.equal(first, again)


def test_shift_right_starts_with_bos():
    targets = torch.tensor([[5, 1, 4], [2, 7, 1]])
    assert shift_right(targets, bos=10).tolist() == [[10, 5, 1], [10, 2, 7]]


def test_bad_input():
    with pytest.raises(ValueError, match=r"length must be > 0, got 0"):
        ReversalTask(length=0)
    with pytest.raises(TypeError, match=r"batch_size must be an int"):
        ReversalTask().sample(2.0, torch.Generator())


# --- dates ------------------------------------------------------------------------------

# How datetime.strptime reads each format (the C locale's English names); the weekday
# format's ordinal suffix is cut off first, since strptime has no code for it.
STRPTIME = {
    "27 November 2026": "%d %B %Y",
    "Nov 27, 2026": "%b %d, %Y",
    "27/11/26": "%d/%m/%y",
    "Friday, November 27th 2026": "%A, %B %d %Y",
    "27.11.2026": "%d.%m.%Y",
    "2026年11月27日": "%Y年%m月%d日",
}
dates = st.dates(min_value=FIRST_DATE, max_value=LAST_DATE)


def test_the_formats_are_the_issue_examples():
    friday = datetime.date(2026, 11, 27)
    assert [format_date(friday, style)[0] for style in DATE_FORMATS] == list(DATE_FORMATS)
    assert iso_date(friday) == "2026-11-27"
    assert format_date(datetime.date(2001, 3, 2), "Friday, November 27th 2026")[0] == (
        "Friday, March 2nd 2001"
    )
    assert format_date(datetime.date(2011, 1, 1), "27 November 2026")[0] == "1 January 2011"


@given(dates, st.sampled_from(DATE_FORMATS))
def test_every_format_reads_back_as_the_same_date_with_datetime(date, style):
    text, spans = format_date(date, style)
    plain = re.sub(r"(\d)(st|nd|rd|th) ", r"\1 ", text)
    assert datetime.datetime.strptime(plain, STRPTIME[style]).date() == date
    if style.startswith("Friday"):
        assert text.startswith(date.strftime("%A") + ", ")
    # each field's characters say that field
    assert int(text[slice(*spans["day"])]) == date.day
    year = text[slice(*spans["year"])]
    assert year == (f"{date.year % 100:02d}" if len(year) == 2 else str(date.year))
    month = text[slice(*spans["month"])]
    # two digits, except in the Chinese format, which writes 3月 for March
    two_digits = f"{date.month:02d}" if style != "2026年11月27日" else str(date.month)
    assert month in (two_digits, date.strftime("%B"), date.strftime("%b"))
    iso = iso_date(date)
    for field, (start, end) in ISO_FIELD_SPANS.items():
        assert iso[start:end] == {"year": f"{date.year:04d}", "month": f"{date.month:02d}",
                                  "day": f"{date.day:02d}"}[field]  # fmt: skip


def test_date_batches_encode_dates_and_decode_back():
    task = DateTask()
    batch = task.sample(64, torch.Generator().manual_seed(0))
    assert batch.sources.shape == (64, task.max_source_length) and batch.targets.shape == (64, 10)
    for index in range(64):
        date = batch.date(index)
        style = DATE_FORMATS[int(batch.styles[index])]
        assert task.decode(batch.sources[index]) == format_date(date, style)[0]
        assert task.decode(batch.targets[index]) == iso_date(date)
        assert len(format_date(date, style)[0]) == int(batch.lengths[index])
    mask = batch.source_mask  # (64, 1, max_source_length), True on real characters
    assert mask.shape == (64, 1, task.max_source_length)
    assert torch.equal(mask[:, 0].sum(1), batch.lengths)
    assert torch.equal(batch.sources == task.pad, ~mask[:, 0])
    assert set(batch.styles.tolist()) == set(range(len(DATE_FORMATS)))
    assert int(batch.sources.max()) < task.vocab_size and task.bos not in batch.sources


def test_date_splits_are_disjoint_cover_every_date_and_sampling_keeps_to_its_split():
    task = DateTask()
    splits = {name: set(task.split_days(name).tolist()) for name in ("train", "validation", "test")}
    assert not splits["train"] & splits["validation"]
    assert not splits["train"] & splits["test"]
    assert not splits["validation"] & splits["test"]
    total = (LAST_DATE - FIRST_DATE).days + 1
    assert set().union(*splits.values()) == set(range(total))
    assert abs(len(splits["test"]) - 0.1 * total) <= 1
    for name in ("validation", "test"):
        batch = task.sample(200, torch.Generator().manual_seed(1), name)
        assert set(batch.days.tolist()) <= splits[name]
    other = DateTask(split_seed=task.split_seed + 1)
    assert other.split_days("test").tolist() != task.split_days("test").tolist()


def test_date_sampling_is_seeded():
    task = DateTask()
    first = task.sample(16, torch.Generator().manual_seed(3))
    again = task.sample(16, torch.Generator().manual_seed(3))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    batches = task.batches(8, torch.Generator().manual_seed(3))
    assert torch.equal(
        next(batches).sources, task.sample(8, torch.Generator().manual_seed(3)).sources
    )


def test_dates_bad_input():
    task = DateTask()
    with pytest.raises(ValueError, match=r"style must be one of .*got 'ISO'"):
        format_date(datetime.date(2026, 1, 1), "ISO")
    with pytest.raises(TypeError, match=r"date must be a datetime.date, got str"):
        format_date("2026-01-01", "27/11/26")
    with pytest.raises(ValueError, match=r"split must be one of .*got 'dev'"):
        task.sample(4, torch.Generator(), "dev")
    with pytest.raises(ValueError, match=r"characters outside the vocabulary: \['!'\]"):
        task.encode(["Nov 27!"])
    with pytest.raises(TypeError, match=r"texts must be a list of strings"):
        task.encode("Nov 27")
    with pytest.raises(ValueError, match=r"dates must lie from 1969-01-01 to 2068-12-31"):
        task.make_batch([datetime.date(2100, 1, 1)], ["27/11/26"])
    with pytest.raises(ValueError, match=r"validation_fraction \+ test_fraction must be below 1"):
        DateTask(validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match=r"test_fraction must lie strictly between 0 and 1"):
        DateTask(test_fraction=0.0)
    with pytest.raises(ValueError, match=r"tokens must be one row"):
        task.decode(torch.zeros(2, 3, dtype=torch.long))


def test_a_date_batch_built_from_slices_of_another_keeps_each_date_with_its_text():
    # chapter 07 keeps the first n test dates: DateBatch(*(field[:n] for field in batch))
    task = DateTask()
    batch = task.sample(6, torch.Generator().manual_seed(2), "test")
    first = DateBatch(*(field[:4] for field in batch))
    assert first.sources.shape == (4, batch.sources.shape[1])
    for i in range(4):
        text, _ = format_date(first.date(i), DATE_FORMATS[int(first.styles[i])])
        assert task.decode(first.sources[i]) == text
        assert task.decode(first.targets[i]) == iso_date(first.date(i))
    assert first.source_mask.sum(-1).flatten().tolist() == first.lengths.tolist()
