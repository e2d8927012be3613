"""Every date format at the ends of its ranges: days 1-3, 11-13, 21-23 and 31, months 1 and 12,
the first and last date of the task, the two-digit years either side of 2000.

The expected text is built here from the format's description (English names typed out,
an ordinal rule of our own, Zeller's rule for the weekday), never from ``format_date``,
so a slip such as "11st", "12nd" or "13rd" cannot hide behind a test that copies it.
"""

from __future__ import annotations

import datetime
import re

import pytest
import torch

from lessons_lib.data import (
    DATE_FORMATS,
    FIRST_DATE,
    LAST_DATE,
    DateTask,
    format_date,
    iso_date,
    ordinal_suffix,
)

MONTHS = "January February March April May June July August September October November December"
MONTHS = MONTHS.split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
BOUNDARY_DAYS = (1, 2, 3, 11, 12, 13, 21, 22, 23, 31)
ORDINALS = {  # typed out: the days whose suffix a rule can get wrong
    1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 10: "10th", 11: "11th", 12: "12th", 13: "13th",
    14: "14th", 20: "20th", 21: "21st", 22: "22nd", 23: "23rd", 24: "24th", 30: "30th",
    31: "31st",
}  # fmt: skip


def suffix(day: int) -> str:
    """English ordinals: "th" for the teens, else by the last digit."""
    if (day // 10) % 10 == 1:
        return "th"
    return ("th", "st", "nd", "rd", "th", "th", "th", "th", "th", "th")[day % 10]


def weekday(date: datetime.date) -> str:
    """Zeller's congruence (Gregorian), which counts 0 = Saturday."""
    year, month = (date.year - 1, date.month + 12) if date.month < 3 else (date.year, date.month)
    century, within = divmod(year, 100)
    h = (date.day + 13 * (month + 1) // 5 + within + within // 4 + century // 4 + 5 * century) % 7
    return ("Saturday", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday")[h]


def expected_text(date: datetime.date, style: str) -> str:
    """What each format writes, from its description in DATE_FORMATS."""
    day, month, year = date.day, MONTHS[date.month - 1], date.year
    return {
        "27 November 2026": f"{day} {month} {year}",
        "Nov 27, 2026": f"{month[:3]} {day}, {year}",
        "27/11/26": f"{day:02d}/{date.month:02d}/{year % 100:02d}",
        "Friday, November 27th 2026": f"{weekday(date)}, {month} {day}{suffix(day)} {year}",
        "27.11.2026": f"{day:02d}.{date.month:02d}.{year}",
        "2026年11月27日": f"{year}年{date.month}月{day}日",
    }[style]


# Where each field stands, read with a pattern of our own per format.
PATTERNS = {
    "27 November 2026": r"(?P<day>\d{1,2}) (?P<month>[A-Z][a-z]+) (?P<year>\d{4})",
    "Nov 27, 2026": r"(?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}), (?P<year>\d{4})",
    "27/11/26": r"(?P<day>\d\d)/(?P<month>\d\d)/(?P<year>\d\d)",
    "Friday, November 27th 2026": (
        r"(?P<weekday>[A-Z][a-z]+), (?P<month>[A-Z][a-z]+) (?P<day>\d{1,2})(st|nd|rd|th) "
        r"(?P<year>\d{4})"
    ),
    "27.11.2026": r"(?P<day>\d\d)\.(?P<month>\d\d)\.(?P<year>\d{4})",
    "2026年11月27日": r"(?P<year>\d{4})年(?P<month>\d{1,2})月(?P<day>\d{1,2})日",
}

BOUNDARY_DATES = [
    datetime.date(year, month, day)
    for year, month in ((2026, 1), (2025, 12), (2000, 3), (1999, 10))
    for day in BOUNDARY_DAYS
    if day <= 30 or month in (1, 3, 10, 12)
]


def test_our_rules_agree_with_the_typed_ordinals_and_a_known_weekday():
    assert {day: f"{day}{suffix(day)}" for day in ORDINALS} == ORDINALS
    assert weekday(datetime.date(2026, 11, 27)) == "Friday"  # DATE_FORMATS' own example
    assert weekday(datetime.date(2000, 1, 1)) == "Saturday"
    assert weekday(datetime.date(1969, 7, 20)) == "Sunday"


@pytest.mark.parametrize("day", range(1, 32))
def test_the_ordinal_suffix_of_every_day_of_a_month(day):
    assert ordinal_suffix(day) == suffix(day)
    if day in ORDINALS:
        assert f"{day}{ordinal_suffix(day)}" == ORDINALS[day]


@pytest.mark.parametrize("day", [101, 102, 103, 104, 111, 112, 113, 121, 122, 123, 211, 1000])
def test_the_ordinal_suffix_past_a_hundred(day):
    assert ordinal_suffix(day) == suffix(day)


@pytest.mark.parametrize("style", DATE_FORMATS)
@pytest.mark.parametrize("date", BOUNDARY_DATES, ids=str)
def test_every_format_writes_the_boundary_days(date, style):
    text, spans = format_date(date, style)
    assert text == expected_text(date, style)
    found = re.fullmatch(PATTERNS[style], text)
    assert found is not None, text
    for field in ("year", "month", "day"):
        assert spans[field] == found.span(field), field


@pytest.mark.parametrize("style", DATE_FORMATS)
@pytest.mark.parametrize("day", BOUNDARY_DAYS)
def test_only_the_ordinal_format_writes_a_suffix(style, day):
    text, _ = format_date(datetime.date(2026, 12, day), style)
    if style == "Friday, November 27th 2026":
        assert f" {ORDINALS[day]} " in text
    else:
        assert not re.search(r"\d(st|nd|rd|th)", text)


@pytest.mark.parametrize("style", DATE_FORMATS)
@pytest.mark.parametrize(
    "date",
    [
        FIRST_DATE,
        LAST_DATE,
        datetime.date(1999, 12, 31),
        datetime.date(2000, 1, 1),
        datetime.date(2000, 2, 29),
        datetime.date(2068, 2, 29),
    ],
    ids=str,
)
def test_every_format_at_the_first_and_last_dates_and_around_2000(date, style):
    assert format_date(date, style)[0] == expected_text(date, style)
    assert iso_date(date) == f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def test_the_task_spans_1969_to_2068_and_the_two_digit_years_cover_it_once():
    assert (FIRST_DATE, LAST_DATE) == (datetime.date(1969, 1, 1), datetime.date(2068, 12, 31))
    short_years = [
        format_date(datetime.date(year, 6, 1), "27/11/26")[0][-2:] for year in range(1969, 2069)
    ]
    assert len(set(short_years)) == 100  # no two years of the task share their two digits
    assert short_years[0] == "69" and short_years[31] == "00" and short_years[-1] == "68"


@pytest.mark.parametrize("style", DATE_FORMATS)
def test_a_batch_of_boundary_dates_encodes_and_decodes_to_the_same_text(style):
    task = DateTask()
    batch = task.make_batch(BOUNDARY_DATES, [style] * len(BOUNDARY_DATES))
    for index, date in enumerate(BOUNDARY_DATES):
        text = expected_text(date, style)
        assert task.decode(batch.sources[index]) == text
        assert int(batch.lengths[index]) == len(text)
        assert batch.date(index) == date
        assert task.decode(batch.targets[index]) == f"{date:%Y-%m-%d}"
    assert batch.styles.tolist() == [DATE_FORMATS.index(style)] * len(BOUNDARY_DATES)


def test_the_first_and_last_dates_are_in_the_task_and_their_neighbours_are_not():
    task = DateTask()
    batch = task.make_batch([FIRST_DATE, LAST_DATE], [DATE_FORMATS[0]] * 2)
    assert batch.days.tolist() == [0, (LAST_DATE - FIRST_DATE).days]
    for outside in (FIRST_DATE - datetime.timedelta(1), LAST_DATE + datetime.timedelta(1)):
        with pytest.raises(ValueError, match="dates must lie from"):
            task.make_batch([outside], [DATE_FORMATS[0]])
    days = torch.cat([task.split_days(split) for split in ("train", "validation", "test")])
    assert days.sort().values.tolist() == list(range((LAST_DATE - FIRST_DATE).days + 1))


def test_the_longest_source_is_max_source_length_characters():
    task = DateTask()
    year_2026 = [datetime.date(2026, 1, 1) + datetime.timedelta(n) for n in range(365)]
    longest = max(len(expected_text(date, style)) for date in year_2026 for style in DATE_FORMATS)
    # "Wednesday, September 30th 2026": the longest weekday, month and day, typed out.
    assert task.max_source_length == len("Wednesday, September 30th 2026") == 30
    assert longest == task.max_source_length
    wednesday = datetime.date(2026, 9, 30)
    text = format_date(wednesday, "Friday, November 27th 2026")[0]
    assert text == "Wednesday, September 30th 2026"
    tokens, lengths = task.encode([text])
    assert tokens.shape == (1, 30) and lengths.tolist() == [30]
    assert task.decode(tokens[0]) == text
    with pytest.raises(ValueError, match="more than length=30"):
        task.encode([text + "0"])


def test_encoding_one_text_and_no_text():
    task = DateTask()
    tokens, lengths = task.encode(["1 May 2000"])
    assert tokens.shape == (1, task.max_source_length) and lengths.tolist() == [10]
    assert task.decode(tokens[0]) == "1 May 2000"
    assert tokens[0, 10:].eq(task.pad).all() and tokens[0, :10].ne(task.pad).all()
    tokens, lengths = task.encode([""])
    assert tokens.eq(task.pad).all() and lengths.tolist() == [0]
    assert task.decode(tokens[0]) == ""
    tokens, lengths = task.encode([])
    assert tokens.shape == (0, task.max_source_length) and lengths.shape == (0,)
