"""Toy data for the book: generated here or shipped inside a package, never downloaded.

Sequence tasks (for the Transformer chapters) come first, image sets (for the
ViT chapters) second. Every set that a chapter trains on comes with a
validation split, which training watches to stop and to choose, and a test
split, which is scored once at the end.

Layer: data (imports torch and numpy; reads the digits and photographs that ship inside
scikit-learn).
"""

from __future__ import annotations

import datetime
import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from lessons_lib._validate import (
    require_float,
    require_int,
    require_number,
    require_positive_int,
    require_rank,
    require_tensor,
    require_token_ids,
)
from lessons_lib.masking import padding_mask

# --- sequence tasks -------------------------------------------------------------------

MAX_DRAWS = 100  # rejection sampling gives up, with a clear error, after this many rounds


def _require_generator(generator: object) -> torch.Generator:
    """Every draw takes a ``torch.Generator``, so that no sampler touches the global RNG."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            "generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0), "
            f"got {type(generator).__name__}"
        )
    return generator


def _require_fraction(name: str, value: object) -> float:
    """A number strictly between 0 and 1."""
    if not 0.0 < require_number(name, value) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return value


@dataclass(frozen=True)
class ReversalTask:
    """Reverse a sequence of digits: ``3 1 4 1 5`` -> ``5 1 4 1 3``.

    Tokens ``0..n_digits-1`` are digits and token ``bos = n_digits`` starts
    every decoder input. The alignment is visible: output position ``t``
    must read source position ``length - 1 - t``, so a trained model's
    cross-attention is an anti-diagonal.

    Sequences whose digit sum is a multiple of 7 are *held out*: training
    batches never contain them, test batches contain only them.
    """

    length: int = 8
    n_digits: int = 10

    def __post_init__(self) -> None:
        require_positive_int("length", self.length)
        require_positive_int("n_digits", self.n_digits)

    @property
    def bos(self) -> int:
        """The begin-of-sequence token that starts every decoder input."""
        return self.n_digits

    @property
    def vocab_size(self) -> int:
        """Digits plus the begin-of-sequence token."""
        return self.n_digits + 1

    def is_held_out(self, sources: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` bool: which sequences belong to the held-out split."""
        return sources.sum(dim=-1) % 7 == 0

    def sample(
        self, batch_size: int, generator: torch.Generator, held_out: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sources, targets)``, each ``(batch_size, length)`` long, from one split."""
        require_positive_int("batch_size", batch_size)
        _require_generator(generator)
        chosen: list[torch.Tensor] = []
        found = 0
        for _ in range(MAX_DRAWS):
            shape = (4 * batch_size, self.length)
            candidates = torch.randint(0, self.n_digits, shape, generator=generator)
            keep = candidates[self.is_held_out(candidates) == held_out]
            chosen.append(keep)
            found += len(keep)
            if found >= batch_size:
                sources = torch.cat(chosen)[:batch_size]  # (batch, length)
                return sources, sources.flip(dims=[1])
        split = "held-out" if held_out else "training"
        raise ValueError(
            f"found only {found} {split} sequences in {MAX_DRAWS} draws of "
            f"{4 * batch_size}: with length={self.length} and n_digits={self.n_digits} "
            "almost no digit sums fall in that split; use more digits or another length"
        )

    def batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Training batches ``(sources, targets)`` forever, drawn with ``generator``."""
        require_positive_int("batch_size", batch_size)
        _require_generator(generator)
        return self._batches(batch_size, generator)

    def _batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.sample(batch_size, generator)


def shift_right(targets: torch.Tensor, bos: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``[bos, y_0, ..., y_{n-2}]``.

    The decoder predicts ``y_t`` from ``bos, y_0, ..., y_{t-1}``: the output at
    one step is the input at the next.

    >>> shift_right(torch.tensor([[5, 1, 4]]), bos=10)
    tensor([[10,  5,  1]])
    """
    targets = require_tensor("targets", targets)
    if targets.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"targets must hold token ids (torch.long), got dtype {targets.dtype}")
    require_rank("targets", targets, 2, "(batch, length)")
    bos = require_int("bos", bos)
    start = torch.full_like(targets[:, :1], bos)  # (batch, 1)
    return torch.cat([start, targets[:, :-1]], dim=1)  # (batch, length)


# --- dates: an alignment that moves ---------------------------------------------------

MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The dates the task draws from. The two-digit years of "dd/mm/yy" follow the POSIX rule
# that datetime.strptime("%y") uses: 69..99 mean 1969..1999, 00..68 mean 2000..2068.
FIRST_DATE = datetime.date(1969, 1, 1)
LAST_DATE = datetime.date(2068, 12, 31)
# The source formats, each named by how it writes Friday, 27 November 2026.
DATE_FORMATS = (
    "27 November 2026",
    "Nov 27, 2026",
    "27/11/26",
    "Friday, November 27th 2026",
    "27.11.2026",
    "2026年11月27日",
)
DATE_FIELDS = ("year", "month", "day")
# Where each field stands in the ISO target "2026-11-27": characters [start, end).
ISO_FIELD_SPANS = {"year": (0, 4), "month": (5, 7), "day": (8, 10)}


def ordinal_suffix(day: int) -> str:
    """``"st"``, ``"nd"``, ``"rd"`` or ``"th"``: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st.

    >>> [f"{day}{ordinal_suffix(day)}" for day in (1, 2, 3, 4, 11, 12, 13, 22)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '22nd']
    """
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def format_date(date: datetime.date, style: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """Write ``date`` in one of :data:`DATE_FORMATS`; also say where each field stands.

    Returns the text and ``{field: (start, end)}``: the characters ``text[start:end]``
    that hold the year, the month (its name or its number) and the day (digits only).
    English names are written here, so the result never depends on the locale.

    >>> text, spans = format_date(datetime.date(2026, 11, 27), "Friday, November 27th 2026")
    >>> text, spans["month"], text[slice(*spans["day"])], text[slice(*spans["year"])]
    ('Friday, November 27th 2026', (8, 16), '27', '2026')
    >>> format_date(datetime.date(2026, 3, 7), "27/11/26")[0]
    '07/03/26'
    """
    if not isinstance(date, datetime.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    if style not in DATE_FORMATS:
        raise ValueError(f"style must be one of {DATE_FORMATS}, got {style!r}")
    text, spans = "", {}
    for field, piece in _date_pieces(date, style):
        if field is not None:
            spans[field] = (len(text), len(text) + len(piece))
        text += piece
    return text, spans


def _date_pieces(date: datetime.date, style: str) -> list[tuple[str | None, str]]:
    """The text of ``date`` in ``style`` as ``(field or None, piece)`` pairs, in order."""
    month, day, year = MONTH_NAMES[date.month - 1], str(date.day), str(date.year)
    if style == "27 November 2026":
        return [("day", day), (None, " "), ("month", month), (None, " "), ("year", year)]
    if style == "Nov 27, 2026":
        return [("month", month[:3]), (None, " "), ("day", day), (None, ", "), ("year", year)]
    if style == "Friday, November 27th 2026":
        weekday = WEEKDAY_NAMES[date.weekday()]
        suffix = ordinal_suffix(date.day) + " "
        return [
            ("weekday", weekday),
            (None, ", "),
            ("month", month),
            (None, " "),
            ("day", day),
            (None, suffix),
            ("year", year),
        ]
    if style == "2026年11月27日":
        return [
            ("year", year),
            (None, "年"),
            ("month", str(date.month)),
            (None, "月"),
            ("day", day),
            (None, "日"),
        ]
    separator, short_year = {"27/11/26": ("/", True), "27.11.2026": (".", False)}[style]
    return [
        ("day", f"{date.day:02d}"),
        (None, separator),
        ("month", f"{date.month:02d}"),
        (None, separator),
        ("year", f"{date.year % 100:02d}" if short_year else year),
    ]


def iso_date(date: datetime.date) -> str:
    """The target: ``YYYY-MM-DD`` (ISO 8601). ``iso_date(date(2026, 11, 27)) == "2026-11-27"``."""
    if not isinstance(date, datetime.date):
        raise TypeError(f"date must be a datetime.date, got {type(date).__name__}")
    return date.isoformat()


class DateBatch(NamedTuple):
    """Dates written two ways: padded source characters, their lengths, the ISO targets.

    ``sources (n, max_source_length)`` token ids, padded on the right with ``pad``;
    ``lengths (n,)`` real characters per source; ``targets (n, 10)``; ``days (n,)``
    the date as days after :data:`FIRST_DATE`; ``styles (n,)`` the index of its format
    in :data:`DATE_FORMATS`.
    """

    sources: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor
    days: torch.Tensor
    styles: torch.Tensor

    @property
    def source_mask(self) -> torch.Tensor:
        """``(n, 1, max_source_length)`` bool, True on real characters (``padding_mask``)."""
        return padding_mask(self.lengths, self.sources.shape[1])

    def date(self, index: int) -> datetime.date:
        """The date of example ``index``."""
        return FIRST_DATE + datetime.timedelta(days=int(self.days[index]))


DATE_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DateTask:
    """Rewrite a human-readable date as an ISO date: ``"Nov 27, 2026"`` -> ``"2026-11-27"``.

    Sources are characters, in one of :data:`DATE_FORMATS` chosen at random; the
    target is always ``YYYY-MM-DD``. Unlike digit reversal, where output ``t``
    reads source ``L - 1 - t``, here where a field stands depends on the format:
    the year is first in the target but last in the source in five formats of six
    (first only in the Chinese ``2026年11月27日``), and the month is a word, an
    abbreviation or a number.

    Every date from :data:`FIRST_DATE` to :data:`LAST_DATE` belongs to exactly one
    split (a seeded shuffle of the days, ``split_seed``), so the validation and
    test dates never appear in training, in any format. The default ``split_seed=1``
    was drawn after the chapter's recipe had been chosen with seed 0's test dates in
    view; with it the recipe was chosen again on validation dates only
    (``bench/results_date_recipe.py``), so its test dates took part in no choice.
    Characters are tokens: ``0`` pads, ``1`` is the begin token ``bos``, the rest
    are the characters of the formats (:meth:`encode`, :meth:`decode`).

    >>> task = DateTask()
    >>> batch = task.sample(2, torch.Generator().manual_seed(0))
    >>> batch.sources.shape, batch.targets.shape
    (torch.Size([2, 30]), torch.Size([2, 10]))
    >>> task.decode(task.encode(["Nov 27, 2026"])[0][0])
    'Nov 27, 2026'
    """

    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 1

    pad: int = 0
    bos: int = 1
    target_length: int = 10

    def __post_init__(self) -> None:
        for name in ("validation_fraction", "test_fraction"):
            _require_fraction(name, getattr(self, name))
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                "validation_fraction + test_fraction must be below 1 to leave training dates, "
                f"got {self.validation_fraction} + {self.test_fraction}"
            )
        require_int("split_seed", self.split_seed)
        # token_names fixes the layout: 0 is "<pad>", 1 is "<bos>", the characters follow.
        # Another pad or bos would be a character's id: decode would stop at the first space.
        for name, token in (("pad", 0), ("bos", 1)):
            if require_int(name, getattr(self, name)) != token:
                raise ValueError(
                    f"{name} must be {token}, the id of {self.token_names[token]!r} in "
                    f"token_names (characters start at 2), got {getattr(self, name)}"
                )
        iso_length = len(iso_date(LAST_DATE))  # 10: "YYYY-MM-DD"
        if require_int("target_length", self.target_length) < iso_length:
            raise ValueError(
                f"target_length must be at least {iso_length}, the length of an ISO date "
                f"YYYY-MM-DD, got {self.target_length}"
            )

    @cached_property
    def characters(self) -> str:
        """Every character of a source or target, sorted: token ``i + 2`` is ``characters[i]``."""
        words = "".join(MONTH_NAMES + WEEKDAY_NAMES) + "0123456789 ,/.-" + "stndrh" + "年月日"
        return "".join(sorted(set(words)))

    @property
    def vocab_size(self) -> int:
        """Padding, the begin token, and the characters."""
        return 2 + len(self.characters)

    @property
    def max_source_length(self) -> int:
        """The longest source, 30 characters: "Wednesday, September 30th 2026"."""
        longest_weekday, longest_month = (
            max(map(len, names)) for names in (WEEKDAY_NAMES, MONTH_NAMES)
        )
        return longest_weekday + len(", ") + longest_month + len(" 30th 2026")

    @property
    def token_names(self) -> list[str]:
        """One printable name per token id, for plots: ``["<pad>", "<bos>", " ", ",", ...]``."""
        return ["<pad>", "<bos>", *self.characters]

    def encode(
        self, texts: Sequence[str], length: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tokens (n, length), lengths (n,))``: texts as token ids, padded on the right."""
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError(f"texts must be a list of strings, got {texts!r:.60}")
        length = (
            self.max_source_length if length is None else require_positive_int("length", length)
        )
        index = self._token_of
        rows = []
        for text in texts:
            unknown = sorted(set(text) - index.keys())
            if unknown:
                raise ValueError(f"{text!r} holds characters outside the vocabulary: {unknown}")
            if len(text) > length:
                raise ValueError(f"{text!r} has {len(text)} characters, more than length={length}")
            rows.append([index[c] for c in text] + [self.pad] * (length - len(text)))
        tokens = torch.tensor(rows, dtype=torch.long).reshape(len(texts), length)  # (n, length)
        lengths = torch.tensor([len(text) for text in texts], dtype=torch.long)
        return tokens, lengths

    @cached_property
    def _token_of(self) -> dict[str, int]:
        return {character: token for token, character in enumerate(self.token_names)}

    def decode(self, tokens: torch.Tensor) -> str:
        """One row of token ids ``(length,)`` back to text; stops at the first ``pad``."""
        tokens = require_tensor("tokens", tokens)
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be one row (length,), got shape {tuple(tokens.shape)}")
        require_token_ids("tokens", tokens)
        names = self.token_names
        text = ""
        for token in tokens.tolist():
            if token == self.pad:
                break
            if not 0 <= token < len(names):
                raise ValueError(f"token {token} is outside 0..vocab_size-1 = 0..{len(names) - 1}")
            text += "" if token == self.bos else names[token]
        return text

    @cached_property
    def _split_days(self) -> dict[str, torch.Tensor]:
        total = (LAST_DATE - FIRST_DATE).days + 1
        order = torch.randperm(total, generator=torch.Generator().manual_seed(self.split_seed))
        n_test, n_validation = (
            round(total * self.test_fraction),
            round(total * self.validation_fraction),
        )
        return {
            "test": order[:n_test].sort().values,
            "validation": order[n_test : n_test + n_validation].sort().values,
            "train": order[n_test + n_validation :].sort().values,
        }

    def split_days(self, split: str) -> torch.Tensor:
        """The split's dates, as days after :data:`FIRST_DATE`, ``(n_dates,)`` sorted."""
        if split not in DATE_SPLITS:
            raise ValueError(f"split must be one of {DATE_SPLITS}, got {split!r}")
        return self._split_days[split]

    def make_batch(self, dates: Sequence[datetime.date], styles: Sequence[str]) -> DateBatch:
        """A :class:`DateBatch` of the given dates, each written in the given style."""
        if len(dates) != len(styles):
            raise ValueError(
                f"need one style per date, got {len(dates)} dates, {len(styles)} styles"
            )
        for date in dates:
            if not isinstance(date, datetime.date) or not FIRST_DATE <= date <= LAST_DATE:
                raise ValueError(f"dates must lie from {FIRST_DATE} to {LAST_DATE}, got {date!r}")
        texts = [format_date(date, style)[0] for date, style in zip(dates, styles)]
        sources, lengths = self.encode(texts)
        targets, _ = self.encode([iso_date(date) for date in dates], self.target_length)
        days = torch.tensor([(date - FIRST_DATE).days for date in dates], dtype=torch.long)
        style_ids = torch.tensor([DATE_FORMATS.index(style) for style in styles], dtype=torch.long)
        return DateBatch(sources, targets, lengths, days, style_ids)

    def sample(self, n: int, generator: torch.Generator, split: str = "train") -> DateBatch:
        """``n`` random dates of ``split``, each in a random format (seeded by ``generator``)."""
        require_positive_int("n", n)
        _require_generator(generator)
        pool = self.split_days(split)
        days = pool[torch.randint(0, len(pool), (n,), generator=generator)]
        style_ids = torch.randint(0, len(DATE_FORMATS), (n,), generator=generator)
        dates = [FIRST_DATE + datetime.timedelta(days=day) for day in days.tolist()]
        return self.make_batch(dates, [DATE_FORMATS[i] for i in style_ids.tolist()])

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[DateBatch]:
        """Training batches forever, drawn with ``generator``."""
        require_positive_int("batch_size", batch_size)
        _require_generator(generator)
        return self._batches(batch_size, generator)

    def _batches(self, batch_size: int, generator: torch.Generator) -> Iterator[DateBatch]:
        while True:
            yield self.sample(batch_size, generator)


# --- image sets -----------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSet:
    """Images with one label each: ``images (n, channels, H, W)`` in [0, 1], ``labels (n,)``."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        images = require_float("images", self.images)
        labels = require_tensor("labels", self.labels)
        if images.dim() != 4 or labels.shape != (images.shape[0],):
            raise ValueError(
                "an ImageSet needs images (n, channels, H, W) and labels (n,), got "
                f"{tuple(images.shape)} and {tuple(labels.shape)}"
            )
        if labels.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"labels must be class ids (torch.long), got dtype {labels.dtype}")
        if isinstance(self.class_names, str) or not isinstance(self.class_names, Sequence):
            raise TypeError(f"class_names must be a tuple of names, got {self.class_names!r:.60}")
        n_classes = len(self.class_names)
        if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(
                f"labels run from {int(labels.min())} to {int(labels.max())}, but there are "
                f"{n_classes} class_names: each label must lie in 0..{n_classes - 1}"
            )

    def __len__(self) -> int:
        return self.labels.shape[0]

    def batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Random ``(images, labels)`` batches forever, drawn with ``generator`` (seeded)."""
        require_positive_int("batch_size", batch_size)
        _require_generator(generator)
        if len(self) == 0:
            raise ValueError("this ImageSet holds no images, so there is nothing to draw from")
        return self._batches(batch_size, generator)

    def _batches(
        self, batch_size: int, generator: torch.Generator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            chosen = torch.randint(0, len(self), (batch_size,), generator=generator)
            yield self.images[chosen], self.labels[chosen]  # (batch, C, H, W), (batch,)


class Splits(NamedTuple):
    """A data set cut three ways: fit on ``train``, stop and choose on ``validation``,
    score ``test`` once at the end."""

    train: ImageSet
    validation: ImageSet
    test: ImageSet


def _sklearn_file(*parts: str) -> Path | None:
    """A data file inside the installed scikit-learn, found without importing it.

    None if that release keeps no such file; an ImportError if scikit-learn is missing.

    ``from sklearn.datasets import ...`` imports much of scikit-learn and SciPy (0.6 s),
    only to read a file. The loaders below read the same files themselves, and fall back
    to scikit-learn's own functions if a release moves them. Tests check both agree.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the digits and the sample photographs ship with scikit-learn: pip install scikit-learn"
        )
    path = Path(next(iter(spec.submodule_search_locations)), "datasets", *parts)
    return path if path.is_file() else None


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ``(images (1797, 8, 8) in 0..16, labels (1797,))``."""
    path = _sklearn_file("data", "digits.csv.gz")
    if path is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.images, digits.target
    rows = np.loadtxt(path, delimiter=",")  # (1797, 65): 64 pixels, then the label
    return rows[:, :-1].reshape(-1, 8, 8), rows[:, -1].astype(int)


def _sample_image(name: str) -> np.ndarray:
    """One of scikit-learn's sample photographs, ``(427, 640, 3)`` uint8, as it loads them."""
    path = _sklearn_file("images", name)
    if path is None:
        from sklearn.datasets import load_sample_image

        return load_sample_image(name)
    from PIL import Image  # installed with matplotlib

    with Image.open(path) as image:
        return np.asarray(image)


def load_digits_split(
    test_fraction: float = 0.2, validation_fraction: float = 0.1, seed: int = 0
) -> Splits:
    """scikit-learn's 8x8 handwritten digits, split into ``(train, validation, test)``.

    1,797 grey images of 8x8 pixels, labels 0..9. The file ships inside
    scikit-learn, so nothing is downloaded. Pixels (0..16) are scaled to [0, 1];
    the split is a seeded shuffle.

    >>> train, validation, test = load_digits_split()
    >>> train.images.shape, len(validation), len(test)
    (torch.Size([1258, 1, 8, 8]), 180, 359)
    """
    _require_fraction("test_fraction", test_fraction)
    _require_fraction("validation_fraction", validation_fraction)
    seed = require_int("seed", seed)
    if test_fraction + validation_fraction >= 1.0:
        raise ValueError(
            f"test_fraction + validation_fraction must be below 1 to leave training images, "
            f"got {test_fraction} + {validation_fraction}"
        )
    pixels, targets = _digits_arrays()
    images = torch.tensor(pixels, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8)
    labels = torch.tensor(targets, dtype=torch.long)  # (1797,)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(labels) * test_fraction)
    n_validation = round(len(labels) * validation_fraction)
    names = tuple(str(digit) for digit in range(10))
    parts = order[n_test + n_validation :], order[n_test : n_test + n_validation], order[:n_test]
    return Splits(*(ImageSet(images[part], labels[part], names) for part in parts))


def load_sample_photo(size: int = 224, name: str = "china.jpg") -> torch.Tensor:
    """A colour photograph that ships with scikit-learn, square, ``(3, size, size)`` in [0, 1].

    ``name`` is ``"china.jpg"`` or ``"flower.jpg"`` (both 427x640 pixels,
    nothing downloaded). The middle square of the picture is cut out (the
    full height, the central 427 columns) and resized to ``size x size`` with
    ``F.interpolate(mode="bilinear", antialias=True)``: antialiasing averages
    the pixels that each new pixel covers, so shrinking does not alias.
    ``size=224`` is the ViT paper's training resolution.

    >>> load_sample_photo(224).shape
    torch.Size([3, 224, 224])
    """
    import torch.nn.functional as F

    size = require_positive_int("size", size)
    if name not in ("china.jpg", "flower.jpg"):
        raise ValueError(f"name must be 'china.jpg' or 'flower.jpg', got {name!r}")
    pixels = torch.tensor(_sample_image(name)).permute(2, 0, 1)  # (3, H, W) uint8
    height, width = pixels.shape[1:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = pixels[:, top : top + side, left : left + side].float() / 255.0  # (3, side, side)
    resized = F.interpolate(
        square[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )  # (1, 3, size, size)
    return resized[0].clamp(0.0, 1.0)


@dataclass(frozen=True)
class MarkPositionTask:
    """Where is the mark? A task that only position codes can solve.

    Every image is faint noise with one bright ``p x p`` mark (a ring) placed
    exactly on one patch of the grid; the label is the quadrant that holds
    the mark: top-left, top-right, bottom-left, bottom-right. Because the mark
    sits exactly on a patch, every image is made of the same kinds of patches
    (one mark, the rest noise): only *where* the mark patch is tells the
    quadrant. A ViT without position codes treats its patches as an unordered
    set, so it cannot do better than chance (1/4).
    """

    image_size: int = 8
    patch_size: int = 2
    noise: float = 0.1

    def __post_init__(self) -> None:
        require_positive_int("image_size", self.image_size)
        require_positive_int("patch_size", self.patch_size)
        grid = self.image_size // self.patch_size
        if self.image_size % self.patch_size != 0 or grid % 2 != 0:
            raise ValueError(
                f"image_size ({self.image_size}) must split into an even number of patches "
                f"of patch_size ({self.patch_size}) across, so that the quadrants are whole"
            )
        if not 0.0 <= require_number("noise", self.noise) < 1.0:
            raise ValueError(f"noise must lie in [0, 1), got {self.noise}")

    class_names = ("top-left", "top-right", "bottom-left", "bottom-right")

    @property
    def grid(self) -> int:
        """Patches per side."""
        return self.image_size // self.patch_size

    def mark(self) -> torch.Tensor:
        """The ``(p, p)`` mark: a bright ring (a single bright pixel when p = 1)."""
        mark = torch.ones(self.patch_size, self.patch_size)
        if self.patch_size > 2:
            mark[1:-1, 1:-1] = 0.0
        return mark

    def sample(self, n: int, generator: torch.Generator) -> ImageSet:
        """``n`` images ``(n, 1, image_size, image_size)`` with their quadrant labels."""
        require_positive_int("n", n)
        _require_generator(generator)
        size, p, grid = self.image_size, self.patch_size, self.grid
        images = torch.rand(n, 1, size, size, generator=generator) * self.noise
        rows = torch.randint(0, grid, (n,), generator=generator)
        cols = torch.randint(0, grid, (n,), generator=generator)
        mark = self.mark()
        for index, (row, col) in enumerate(zip(rows.tolist(), cols.tolist())):
            images[index, 0, row * p : (row + 1) * p, col * p : (col + 1) * p] = mark
        half = grid // 2
        labels = 2 * (rows >= half).long() + (cols >= half).long()  # (n,) quadrant 0..3
        return ImageSet(images, labels, self.class_names)
