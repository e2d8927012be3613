"""``field_attention_shares``, behind chapter 06's comparison with a "uniform reader".

Every case is a reader whose shares are known by construction: one that spreads its weight
evenly over the real source characters must score exactly the uniform share; one that
looks only at the matching field must score 1; one that looks only at another field, 0;
one that puts a chosen fraction on the field, that fraction. Where the fields stand in the
source is read here with patterns of our own, not with ``format_date``'s spans.
"""

from __future__ import annotations

import datetime
import re

import pytest
import torch

from lessons_lib.data import DATE_FIELDS, DATE_FORMATS, DateTask, format_date
from lessons_lib.experiments.transformer import DateAttention, field_attention_shares

# The output fields in "YYYY-MM-DD", typed out.
OUTPUT_ROWS = {"year": range(0, 4), "month": range(5, 7), "day": range(8, 10)}
SEPARATOR_ROWS = (4, 7)
PATTERNS = {
    "27 November 2026": r"(?P<day>\d{1,2}) (?P<month>[A-Z][a-z]+) (?P<year>\d{4})",
    "Nov 27, 2026": r"(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4})",
    "27/11/26": r"(?P<day>\d\d)/(?P<month>\d\d)/(?P<year>\d\d)",
    "Friday, November 27th 2026": (
        r"[A-Z][a-z]+, (?P<month>[A-Z][a-z]+) (?P<day>\d{1,2})(st|nd|rd|th) (?P<year>\d{4})"
    ),
    "27.11.2026": r"(?P<day>\d\d)\.(?P<month>\d\d)\.(?P<year>\d{4})",
    "2026年11月27日": r"(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日",
}
FIELDS = ("year", "month", "day")
# Short and long fields, one- and two-digit days, every format, with a repeated style.
DATES = [
    (datetime.date(2026, 11, 27), DATE_FORMATS[0]),
    (datetime.date(1969, 1, 1), DATE_FORMATS[1]),
    (datetime.date(2068, 12, 31), DATE_FORMATS[2]),
    (datetime.date(2001, 9, 3), DATE_FORMATS[3]),
    (datetime.date(2011, 5, 12), DATE_FORMATS[4]),
    (datetime.date(1987, 2, 11), DATE_FORMATS[3]),
    (datetime.date(2044, 7, 9), DATE_FORMATS[0]),
    (datetime.date(2003, 4, 5), DATE_FORMATS[5]),
]
LAYERS, HEADS = 2, 3


def batch_of(dates):
    task = DateTask()
    return task.make_batch([date for date, _ in dates], [style for _, style in dates])


def field_columns(date, style):
    """``{field: range of source characters}`` and the text's length, from our patterns."""
    text = format_date(date, style)[0]
    found = re.fullmatch(PATTERNS[style], text)
    assert found is not None, text
    return {field: range(*found.span(field)) for field in FIELDS}, len(text)


def empty_cross(batch):
    n, source_length = batch.sources.shape
    return torch.zeros(n, LAYERS, HEADS, 10, source_length)  # (n, layers, heads, 10, L_src)


def uniform_reader(dates, batch):
    """Every output row spreads its weight evenly over the real source characters."""
    cross = empty_cross(batch)
    for index, (date, style) in enumerate(dates):
        _, length = field_columns(date, style)
        cross[index, ..., :length] = 1 / length
    return cross


def field_reader(dates, batch, share=None, read=None):
    """Output rows of field f put ``share[f]`` of their weight on source field ``read[f]``.

    The rest goes to the first character that belongs to no field (a space, a comma, a
    separator), and the separator rows of the output read the first character.
    """
    share = share or dict.fromkeys(FIELDS, 1.0)
    read = read or {field: field for field in FIELDS}
    cross = empty_cross(batch)
    for index, (date, style) in enumerate(dates):
        columns, length = field_columns(date, style)
        in_a_field = set().union(*columns.values())
        elsewhere = next(j for j in range(length) if j not in in_a_field)
        for field, rows in OUTPUT_ROWS.items():
            target = columns[read[field]]
            for row in rows:
                for column in target:  # spread unevenly over the field: weights 1, 2, 3, ...
                    weight = (column - target.start + 1) / sum(range(1, len(target) + 1))
                    cross[index, :, :, row, column] = share[field] * weight
                cross[index, :, :, row, elsewhere] += 1 - share[field]
        cross[index, :, :, SEPARATOR_ROWS, 0] = 1.0
    return cross


def uniform_share(dates):
    """(3,) the mean over examples of |S_f| / length, counted from our patterns."""
    counts = []
    for date, style in dates:
        columns, length = field_columns(date, style)
        counts.append([len(columns[field]) / length for field in FIELDS])
    return torch.tensor(counts, dtype=torch.float64).mean(0)


def shares_of(dates, cross):
    batch = batch_of(dates)
    return field_attention_shares(DateAttention(batch.targets, cross), batch)


def test_the_fields_are_year_month_day_in_the_iso_order():
    assert tuple(DATE_FIELDS) == FIELDS


def test_a_reader_of_rows_summing_to_one():
    batch = batch_of(DATES)
    for cross in (uniform_reader(DATES, batch), field_reader(DATES, batch)):
        assert torch.allclose(cross.sum(-1), torch.ones(cross.shape[:-1]))


def test_a_uniform_reader_scores_exactly_the_uniform_share():
    batch = batch_of(DATES)
    shares = shares_of(DATES, uniform_reader(DATES, batch))
    expected = uniform_share(DATES)
    assert shares.uniform.shape == (3,)
    assert torch.allclose(shares.uniform.double(), expected, atol=1e-6)
    assert shares.by_head.shape == (LAYERS, HEADS, 3)
    assert torch.allclose(shares.by_head.double(), expected.expand(LAYERS, HEADS, 3), atol=1e-6)


def test_a_reader_of_the_matching_field_only_scores_1():
    batch = batch_of(DATES)
    shares = shares_of(DATES, field_reader(DATES, batch))
    assert torch.allclose(shares.by_head, torch.ones(LAYERS, HEADS, 3), atol=1e-6)
    present = sorted({DATE_FORMATS.index(style) for _, style in DATES})
    assert torch.allclose(shares.by_style[present], torch.ones(len(present), LAYERS, 3), atol=1e-6)
    assert torch.allclose(shares.uniform.double(), uniform_share(DATES), atol=1e-6)


@pytest.mark.parametrize(
    "read",
    [
        {"year": "month", "month": "day", "day": "year"},
        {"year": "day", "month": "year", "day": "month"},
    ],
)
def test_a_reader_of_another_field_scores_0(read):
    batch = batch_of(DATES)
    shares = shares_of(DATES, field_reader(DATES, batch, read=read))
    assert torch.allclose(shares.by_head, torch.zeros(LAYERS, HEADS, 3), atol=1e-6)


def test_each_field_gets_its_own_share_in_the_order_year_month_day():
    batch = batch_of(DATES)
    share = {"year": 0.5, "month": 0.25, "day": 0.875}
    shares = shares_of(DATES, field_reader(DATES, batch, share=share))
    expected = torch.tensor([share[field] for field in FIELDS])
    assert torch.allclose(shares.by_head, expected.expand(LAYERS, HEADS, 3), atol=1e-6)


def test_heads_and_layers_are_kept_apart_and_by_style_is_the_mean_of_the_heads():
    batch = batch_of(DATES)
    cross = uniform_reader(DATES, batch)
    cross[:, 1, 0] = field_reader(DATES, batch)[:, 1, 0]  # layer 1, head 0 reads the field
    shares = shares_of(DATES, cross)
    uniform = uniform_share(DATES).float()
    assert torch.allclose(shares.by_head[0], uniform.expand(HEADS, 3), atol=1e-6)
    assert torch.allclose(shares.by_head[1, 0], torch.ones(3), atol=1e-6)
    assert torch.allclose(shares.by_head[1, 1:], uniform.expand(HEADS - 1, 3), atol=1e-6)
    for style_index, style in enumerate(DATE_FORMATS):
        mine = [(date, s) for date, s in DATES if s == style]
        style_uniform = uniform_share(mine).float()
        by_style = shares.by_style[style_index]  # (layers, 3)
        assert torch.allclose(by_style[0], style_uniform, atol=1e-6), style
        assert torch.allclose(by_style[1], (1 + (HEADS - 1) * style_uniform) / HEADS, atol=1e-6)


def test_a_format_the_batch_lacks_has_no_share_and_the_others_are_untouched():
    dates = [(date, style) for date, style in DATES if style != DATE_FORMATS[2]]
    batch = batch_of(dates)
    shares = shares_of(dates, field_reader(dates, batch))
    assert torch.isnan(shares.by_style[2]).all()
    others = [index for index in range(len(DATE_FORMATS)) if index != 2]
    assert torch.allclose(shares.by_style[others], torch.ones(len(others), LAYERS, 3), atol=1e-6)


@pytest.mark.parametrize("style", DATE_FORMATS)
def test_one_date_alone_in_each_format(style):
    dates = [(datetime.date(2031, 12, 21), style)]
    batch = batch_of(dates)
    assert torch.allclose(
        shares_of(dates, uniform_reader(dates, batch)).by_head.double(),
        uniform_share(dates).expand(LAYERS, HEADS, 3),
        atol=1e-6,
    )
    field_only = shares_of(dates, field_reader(dates, batch))
    assert torch.allclose(field_only.by_head, torch.ones(LAYERS, HEADS, 3), atol=1e-6)
    columns, length = field_columns(*dates[0])
    assert field_only.uniform.tolist() == pytest.approx(
        [len(columns[field]) / length for field in FIELDS]
    )


def test_the_uniform_share_of_a_known_date_counted_by_hand():
    # "Friday, November 27th 2026": 26 characters; year 4, month 8 ("November"), day 2.
    dates = [(datetime.date(2026, 11, 27), "Friday, November 27th 2026")]
    batch = batch_of(dates)
    shares = shares_of(dates, uniform_reader(dates, batch))
    assert shares.uniform.tolist() == pytest.approx([4 / 26, 8 / 26, 2 / 26])
    # "27/11/26": 8 characters, two each.
    dates = [(datetime.date(2026, 11, 27), "27/11/26")]
    shares = shares_of(dates, uniform_reader(dates, batch_of(dates)))
    assert shares.uniform.tolist() == pytest.approx([2 / 8, 2 / 8, 2 / 8])
    assert shares.by_head.flatten().tolist() == pytest.approx([2 / 8] * (LAYERS * HEADS * 3))


def test_weight_on_the_padding_counts_for_no_field():
    dates = [(datetime.date(2026, 11, 27), "27/11/26")]  # 8 characters, 22 of padding
    batch = batch_of(dates)
    cross = empty_cross(batch)
    cross[..., 8:] = 1 / (cross.shape[-1] - 8)  # every row reads only the padding
    assert torch.allclose(shares_of(dates, cross).by_head, torch.zeros(LAYERS, HEADS, 3))


def test_a_different_number_of_examples_is_refused():
    batch = batch_of(DATES)
    cross = uniform_reader(DATES, batch)[:-1]
    with pytest.raises(ValueError, match="examples"):
        field_attention_shares(DateAttention(batch.targets[:-1], cross), batch)
