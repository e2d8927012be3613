"""A corpus of real English that ships with every Python: the standard library's docstrings.

The chapter "From the Transformer to GPT" trains a small decoder-only model on
this text. Nothing is downloaded: the docstrings are read with :mod:`ast` from
the ``.py`` files of the running interpreter's standard library (the modules
are parsed, never imported). The pieces, in the order a chapter uses them:

1. :func:`stdlib_docstrings` collects the corpus (cached in-process);
2. :func:`split_corpus` splits it by top-level module into train, validation
   and test, so that no module's vocabulary leaks from training into scoring;
3. :func:`corpus_text` joins a split into one training text, each docstring
   followed by :data:`END_OF_TEXT`;
4. :class:`CharTokenizer` and :class:`BPETokenizer` turn text into ids behind
   one interface (``encode``, ``decode``, ``tokens``, ``vocab_size``), and
   :func:`characters_per_token` and :func:`per_character` make their losses
   comparable per character;
5. :func:`encode_split` and :func:`lm_batches` feed a language model.

Layer: data (imports torch, the standard library and, for :class:`BPETokenizer`
only, Hugging Face ``tokenizers``; the import is deferred, so this module imports
without it).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import json
import math
import os
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch

from lessons_lib._validate import (
    require_int,
    require_number,
    require_positive_int,
    require_rank,
    require_tensor,
    require_token_ids,
)

if TYPE_CHECKING:  # only for the annotations: BPETokenizer.train imports it when called
    import tokenizers

END_OF_TEXT = "\x03"
"""Ends every docstring in :func:`corpus_text`: ASCII's own "End of Text" control
character, one character for both tokenizers. It never occurs inside a docstring
(the corpus keeps printable text only), and the BPE tokenizer keeps it as a special
token of its own, never merged with its neighbours."""

MIN_CHARACTERS = 40  # shorter docstrings ("Return self.", "Docstring.") teach little English
SPLITS = ("train", "validation", "test")

# Directories that hold no standard-library module a reader imports: tests and installed packages.
_SKIPPED_DIRECTORIES = frozenset(
    {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# The statements that hold blocks of statements, and the names of those blocks.
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match)
_COMPOUND += (ast.ExceptHandler, ast.match_case, getattr(ast, "TryStar", ast.Try))  # 3.11+
_BLOCKS = ("body", "orelse", "handlers", "finalbody", "cases")


# --- collecting -----------------------------------------------------------------------


@dataclass(frozen=True)
class Docstring:
    """One docstring of the standard library.

    ``module`` is the dotted module name (``"email.message"``), ``name`` the
    qualified name of the class or function inside it (``"Message.get"``; empty
    for the module's own docstring), ``text`` the docstring as
    ``ast.get_docstring(clean=True)`` returns it (indentation removed).

    >>> doc = Docstring("email.message", "Message.get", "Get a header value.")
    >>> doc.top_level, doc.qualified_name
    ('email', 'email.message.Message.get')
    """

    module: str
    name: str
    text: str

    @property
    def top_level(self) -> str:
        """The first component of the module name: what :func:`split_corpus` keeps together."""
        return self.module.partition(".")[0]

    @property
    def qualified_name(self) -> str:
        """``module.name``, or the module alone for a module's docstring."""
        return f"{self.module}.{self.name}" if self.name else self.module


def _module_files(root: str) -> list[tuple[str, str]]:
    """``(dotted module name, path)`` of every importable ``.py`` file under ``root``, sorted.

    Skips tests, installed packages and caches (:data:`_SKIPPED_DIRECTORIES`) and any
    directory or file whose name is not an identifier (``config-3.11-x86_64-linux-gnu``,
    ``_sysconfigdata__linux_x86_64-linux-gnu.py``): nothing there can be imported by name.
    """
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(  # pruned in place, so os.walk never enters them
            name
            for name in subdirectories
            if name not in _SKIPPED_DIRECTORIES and name.isidentifier()
        )
        package = os.path.relpath(directory, root).replace(os.sep, ".").removeprefix(".")
        for name in names:
            stem, extension = os.path.splitext(name)
            if extension != ".py" or not stem.isidentifier():
                continue
            parts = [part for part in (package, "" if stem == "__init__" else stem) if part]
            files.append((".".join(parts), os.path.join(directory, name)))
    return sorted(files, key=lambda file: file[1])


def _docstrings_of(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """``(qualified name, docstring)`` of every class and function in ``tree``, in source order.

    Descends through the blocks of statements only (a ``def`` inside ``if``, ``try``
    or ``with`` counts), never into expressions, where no docstring can be.
    """
    for block in _BLOCKS:
        for node in getattr(tree, block, ()):
            if isinstance(node, _DEFINITIONS):
                name = f"{prefix}{node.name}"
                yield name, ast.get_docstring(node, clean=True)
                yield from _docstrings_of(node, f"{name}.")
            elif isinstance(node, _COMPOUND):
                yield from _docstrings_of(node, prefix)


def _is_printable(text: str) -> bool:
    """True if every character but the newline is printable (no tabs, form feeds, NULs)."""
    return text.replace("\n", "").isprintable()


@contextlib.contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Pause Python's cycle collector, which ``ast.parse`` would set off thousands of times.

    Each run of the collector scans every live object, and with torch imported there
    are millions: parsing the standard library took about three times as long with it
    as without. Syntax trees hold no reference cycles, so reference counting alone
    frees them; the collector is switched back on afterwards if it was on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.cache
def _collect(root: str, min_characters: int) -> tuple[Docstring, ...]:
    """The corpus under ``root``, computed once per process (:func:`stdlib_docstrings`)."""
    with _without_cycle_collector():
        return _read_docstrings(root, min_characters)


def _read_docstrings(root: str, min_characters: int) -> tuple[Docstring, ...]:
    seen: set[str] = set()
    corpus = []
    for module, path in _module_files(root):
        try:
            with open(path, "rb") as file:
                tree = ast.parse(file.read(), filename=path)  # bytes: the file's own encoding
        except (SyntaxError, ValueError, UnicodeDecodeError, OSError):
            continue  # a file this Python cannot parse is skipped (none outside the tests)
        found = [("", ast.get_docstring(tree, clean=True)), *_docstrings_of(tree)]
        for name, text in found:
            keep = text is not None and len(text) >= min_characters and _is_printable(text)
            if keep and text not in seen:  # exact duplicates: the first one (sorted paths) stays
                seen.add(text)
                corpus.append(Docstring(module, name, text))
    return tuple(corpus)


def stdlib_docstrings(min_characters: int = MIN_CHARACTERS) -> list[Docstring]:
    """Every docstring of the running Python's standard library, read with ``ast``.

    Reads each ``.py`` file under ``sysconfig.get_paths()["stdlib"]`` in sorted
    path order, without importing it, and keeps the module, class and function
    docstrings that are

    - outside tests (``test``, ``tests``, ``idlelib/idle_test``, lib2to3's
      tests), installed packages (``site-packages``) and ``__pycache__``;
    - at least ``min_characters`` long;
    - printable: every character but the newline passes ``str.isprintable``, so
      :data:`END_OF_TEXT` never occurs inside one (a docstring with a form feed,
      a NUL or another control character is left out whole, not edited; tabs
      are already spaces after ``clean=True``);
    - new: of docstrings with exactly the same text, the first one stays.

    Non-ASCII text (``ß``, ``’``, box-drawing lines) is kept: the byte-level BPE
    tokenizer encodes any character, and the character tokenizer learns the
    ones in its training text.

    The first call parses the files (about 2 s); later calls in the same
    process return a copy of the cached result, e.g. ``stdlib_docstrings()[0]``
    is ``__future__``'s module docstring.
    """
    min_characters = require_positive_int("min_characters", min_characters)
    return list(_collect(sysconfig.get_paths()["stdlib"], min_characters))


# --- splits by module -----------------------------------------------------------------


def _require_docstrings(docstrings: object) -> Sequence[Docstring]:
    """A list (or tuple) of :class:`Docstring`."""
    if not isinstance(docstrings, (list, tuple)):
        raise TypeError(f"docstrings must be a list of Docstring, got {type(docstrings).__name__}")
    for index, doc in enumerate(docstrings):
        if not isinstance(doc, Docstring):
            raise TypeError(
                f"docstrings must be a list of Docstring, got {type(doc).__name__} at index {index}"
            )
    return docstrings


def _check_split(docstrings: object, validation_fraction: object, test_fraction: object) -> None:
    _require_docstrings(docstrings)
    for name, fraction in (("validation_fraction", validation_fraction),
                           ("test_fraction", test_fraction)):  # fmt: skip
        if not 0.0 < require_number(name, fraction) < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {fraction!r}")
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            "validation_fraction + test_fraction must be < 1 to leave text for training, "
            f"got {validation_fraction} + {test_fraction}"
        )


def split_corpus(
    docstrings: Sequence[Docstring],
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, list[Docstring]]:
    """Split the corpus into ``train``, ``validation`` and ``test`` by top-level module.

    Everything under one top-level name (``email``, ``email.message``,
    ``email.mime.text``) goes to one split, so a held-out score measures English
    the model has not read, not the same module's wording seen in training. The
    sorted top-level names are shuffled with ``seed``; in that order, each name
    goes to the first held-out split (test, then validation) that it still fits
    into without passing that split's fraction of the characters (or that is
    still empty), and otherwise to train. With the many small modules of the
    standard library, each held-out split ends just below its fraction. Each
    split keeps the corpus order.

    >>> docs = [Docstring(m, "", "x" * 100) for m in "abcdefghijklmnopqrst"]
    >>> splits = split_corpus(docs, validation_fraction=0.1, test_fraction=0.1)
    >>> [len(splits[name]) for name in ("train", "validation", "test")]
    [16, 2, 2]
    """
    _check_split(docstrings, validation_fraction, test_fraction)
    seed = require_int("seed", seed)
    characters: dict[str, int] = {}
    for doc in docstrings:
        characters[doc.top_level] = characters.get(doc.top_level, 0) + len(doc.text)
    names = sorted(characters)
    if len(names) < len(SPLITS):
        raise ValueError(
            f"docstrings must come from at least {len(SPLITS)} top-level modules, one per "
            f"split, got {len(names)}: {names}"
        )
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed))
    total = sum(characters.values())
    targets = {"test": test_fraction * total, "validation": validation_fraction * total}
    filled = dict.fromkeys(targets, 0)
    split_of = {}
    for index in order.tolist():
        name = names[index]
        split_of[name] = "train"
        for split, target in targets.items():
            if filled[split] + characters[name] <= target or filled[split] == 0:
                split_of[name] = split
                filled[split] += characters[name]
                break
    splits: dict[str, list[Docstring]] = {split: [] for split in SPLITS}
    for doc in docstrings:
        splits[split_of[doc.top_level]].append(doc)
    return splits


# --- text for training ----------------------------------------------------------------


def corpus_text(docstrings: Sequence[Docstring]) -> str:
    """The docstrings as one text, each followed by :data:`END_OF_TEXT`.

    >>> corpus_text([Docstring("a", "", "First."), Docstring("b", "", "Second.")])
    'First.\\x03Second.\\x03'
    """
    _require_docstrings(docstrings)
    return "".join(doc.text + END_OF_TEXT for doc in docstrings)


# --- tokenizers -----------------------------------------------------------------------


class TextTokenizer(Protocol):
    """What the chapter needs of a tokenizer: :class:`CharTokenizer` and :class:`BPETokenizer`."""

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str: ...

    def tokens(self, text: str) -> list[str]: ...


def _require_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return text


def _require_ids(ids: object, vocab_size: int) -> list[int]:
    """Token ids as a list of ints in ``[0, vocab_size)``; a 1-D tensor of them passes too."""
    if isinstance(ids, torch.Tensor):
        require_token_ids("ids", ids)
        require_rank("ids", ids, 1, "(seq,)")
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)):
        raise TypeError(f"ids must be a list of ints or a 1-D tensor, got {type(ids).__name__}")
    ids = [require_int("each id", token_id) for token_id in ids]
    wrong = [token_id for token_id in ids if not 0 <= token_id < vocab_size]
    if wrong:
        raise ValueError(
            f"token ids must lie in [0, {vocab_size}) for this vocab_size, got {wrong[0]}"
        )
    return ids


class CharTokenizer:
    """One token per character: the characters of a training text, plus an unknown id.

    Id ``0`` (:attr:`unknown_id`) stands for every character the training text
    did not contain, and decodes to ``"\\ufffd"`` (the Unicode replacement
    character, ``�``); the text's characters get ids ``1, 2, ...`` in code-point
    order. So ``decode(encode(s)) == s`` for any ``s`` written in the training
    text's characters.

    >>> tokenizer = CharTokenizer.from_text("abracadabra")
    >>> tokenizer.vocab_size, tokenizer.encode("cab!")
    (6, [3, 1, 2, 0])
    >>> tokenizer.decode([3, 1, 2, 0]) == "cab" + CharTokenizer.UNKNOWN
    True
    """

    unknown_id = 0
    UNKNOWN = "\ufffd"

    def __init__(self, characters: Sequence[str]) -> None:
        if isinstance(characters, str) or not all(
            isinstance(c, str) and len(c) == 1 for c in characters
        ):
            raise TypeError(
                "characters must be a sequence of one-character strings; "
                "build a tokenizer from a text with CharTokenizer.from_text(text)"
            )
        if len(set(characters)) != len(characters):
            raise ValueError("characters must be distinct, got a repeated character")
        self.characters = [self.UNKNOWN, *characters]  # id -> character
        self._ids = {character: index for index, character in enumerate(characters, start=1)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """A tokenizer for the characters of ``text``, sorted by code point."""
        return cls(sorted(set(_require_text(text))))

    @property
    def vocab_size(self) -> int:
        """The number of ids: the text's distinct characters plus the unknown id."""
        return len(self.characters)

    def encode(self, text: str) -> list[int]:
        """One id per character; a character not in the vocabulary gets :attr:`unknown_id`."""
        return [self._ids.get(character, self.unknown_id) for character in _require_text(text)]

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The characters of ``ids`` (a list of ints or a 1-D tensor), joined."""
        return "".join(self.characters[token_id] for token_id in _require_ids(ids, self.vocab_size))

    def tokens(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into: its characters, unknown ones shown as ``�``."""
        return [self.characters[token_id] for token_id in self.encode(text)]


@functools.cache
def _byte_to_character() -> dict[int, str]:
    """The byte-level alphabet: a printable character standing for each of the 256 bytes.

    The bytes that are printable Latin-1 characters (``!`` to ``~``, ``¡`` to ``¬``,
    ``®`` to ``ÿ``) stand for themselves; the 68 others (space, newline, the
    control bytes...) get ``chr(256)``, ``chr(257)``, ... in byte order, so a
    space shows as ``Ġ`` and a newline as ``Ċ``. This is GPT-2's mapping, which
    ``tokenizers``' ``ByteLevel`` uses; the tests check it against
    ``pre_tokenizers.ByteLevel.alphabet()``.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    mapping = {byte: chr(byte) for byte in printable}
    mapping.update({byte: chr(256 + index) for index, byte in enumerate(others)})
    return mapping


@functools.cache
def _character_to_byte() -> dict[str, int]:
    return {character: byte for byte, character in _byte_to_character().items()}


def _readable(piece: str) -> str:
    """A byte-level piece as text: ``"Ġthe"`` -> ``" the"``.

    A piece that holds only part of a character's UTF-8 bytes shows those bytes
    escaped (``"\\xc3"``), so ``"".join`` of a text's pieces gives the text back
    wherever no character is split.
    """
    if any(character not in _character_to_byte() for character in piece):
        return piece  # a special token, such as END_OF_TEXT
    raw = bytes(_character_to_byte()[character] for character in piece)
    return raw.decode("utf-8", errors="backslashreplace")


def _training_texts(text_or_iterator: object) -> list[str]:
    """The documents to train on: a str cut at END_OF_TEXT, or an iterable of str."""
    if isinstance(text_or_iterator, str):
        return [text for text in text_or_iterator.split(END_OF_TEXT) if text]
    if not isinstance(text_or_iterator, Iterable):
        raise TypeError(
            f"text_or_iterator must be a str or an iterable of str, "
            f"got {type(text_or_iterator).__name__}"
        )
    texts = list(text_or_iterator)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"text_or_iterator must yield str, got {type(text).__name__} at item {index}"
            )
    return texts


class BPETokenizer:
    """Byte-level byte-pair encoding (BPE), trained with Hugging Face ``tokenizers``.

    Text is first cut into words (GPT-2's pattern: a word keeps the space before
    it) and each word into UTF-8 bytes, so every string can be encoded and no id
    means "unknown". Training starts from the 256 bytes plus :data:`END_OF_TEXT`
    and repeatedly merges the most frequent adjacent pair into a new token until
    the vocabulary has ``vocab_size`` tokens. ``decode(encode(s)) == s`` for every
    ``s`` (any str that UTF-8 can encode).

    Training has no randomness, hence no seed: the most frequent pair is merged
    first, ties are broken by the pair itself, so the same text and
    ``vocab_size`` always give the same merges and ids.

    >>> tokenizer = BPETokenizer.train("the cat, the hat, the bat", vocab_size=260)
    >>> tokenizer.vocab_size, len(tokenizer.merges)
    (260, 3)
    """

    def __init__(self, tokenizer: tokenizers.Tokenizer) -> None:
        self._tokenizer = tokenizer

    @classmethod
    def train(cls, text_or_iterator: str | Iterable[str], vocab_size: int = 1024) -> BPETokenizer:
        """Learn merges from a text (cut at :data:`END_OF_TEXT`) or an iterable of texts.

        Merges never cross a text's end, so pass the training split (as
        :func:`corpus_text` of it, or its docstrings' texts), never the held-out
        ones. ``vocab_size`` counts the 256 bytes, :data:`END_OF_TEXT` and the
        merges; a text too small to fill it gives a smaller vocabulary.
        """
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        texts = _training_texts(text_or_iterator)
        vocab_size = require_int("vocab_size", vocab_size)
        if vocab_size < 257:
            raise ValueError(
                f"vocab_size must be >= 257 (the 256 bytes and END_OF_TEXT), got {vocab_size}"
            )
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=[END_OF_TEXT],  # id 0, never merged with its neighbours
            show_progress=False,
        )
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        """The number of ids: 256 bytes, :data:`END_OF_TEXT` and the merges learned."""
        return self._tokenizer.get_vocab_size()

    @property
    def merges(self) -> list[tuple[str, str]]:
        """Every merge, in the order learned, as readable pairs: ``[(" ", "t"), ...]``."""
        pairs = json.loads(self._tokenizer.to_str())["model"]["merges"]
        # tokenizers >= 0.20 stores a merge as [left, right]; older files as "left right".
        pairs = [pair.split(" ") if isinstance(pair, str) else pair for pair in pairs]
        return [(_readable(left), _readable(right)) for left, right in pairs]

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s tokens."""
        text = _require_text(text)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"text must be encodable as UTF-8, got {text[error.start : error.end]!r} "
                f"at index {error.start} (a lone surrogate)"
            ) from None
        return self._tokenizer.encode(text).ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids`` (a list of ints or a 1-D tensor); END_OF_TEXT stays in."""
        ids = _require_ids(ids, self.vocab_size)
        return self._tokenizer.decode(ids, skip_special_tokens=False)

    def tokens(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, as text: ``"the cat"`` -> ``["the", " cat"]``."""
        pieces = [self._tokenizer.id_to_token(token_id) for token_id in self.encode(text)]
        return [_readable(piece) for piece in pieces]


def characters_per_token(tokenizer: TextTokenizer, docstrings: Sequence[Docstring]) -> float:
    """How many characters of :func:`corpus_text` of ``docstrings`` one token covers on average.

    >>> docs = [Docstring("a", "", "abcabc")]
    >>> characters_per_token(CharTokenizer.from_text(corpus_text(docs)), docs)
    1.0
    """
    text = corpus_text(docstrings)
    n_tokens = len(tokenizer.encode(text))
    if n_tokens == 0:
        raise ValueError("docstrings must hold some text, got none")
    return len(text) / n_tokens


def per_character(loss_per_token: float, tokens: int, characters: int) -> float:
    """A mean per-token cross-entropy (nats) turned into nats per character.

    ``loss_per_token * tokens / characters``: the total negative log-likelihood
    of a text divided by its characters, so models with different tokenizers
    compare on the same text. Perplexity per character is ``exp`` of the result;
    bits per character is the result divided by ``ln 2``.

    >>> per_character(2.0, tokens=300, characters=1200)
    0.5
    """
    loss_per_token = require_number("loss_per_token", loss_per_token)
    if not math.isfinite(loss_per_token) or loss_per_token < 0:
        raise ValueError(
            f"loss_per_token must be a finite cross-entropy >= 0, got {loss_per_token}"
        )
    tokens = require_positive_int("tokens", tokens)
    characters = require_positive_int("characters", characters)
    return loss_per_token * tokens / characters


# --- batches for a language model -----------------------------------------------------


def encode_split(tokenizer: TextTokenizer, docstrings: Sequence[Docstring]) -> torch.Tensor:
    """The ids of :func:`corpus_text` of ``docstrings``, as one long tensor ``(n_tokens,)``.

    >>> docs = [Docstring("a", "", "abcabc")]
    >>> encode_split(CharTokenizer.from_text(corpus_text(docs)), docs).shape
    torch.Size([7])
    """
    ids = tokenizer.encode(corpus_text(docstrings))
    return torch.tensor(ids, dtype=torch.long)  # (n_tokens,)


def _check_lm_batches(ids: object, block_size: object, batch_size: object) -> None:
    ids = require_tensor("ids", ids)
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"ids must hold token ids (torch.long), got dtype {ids.dtype}")
    require_rank("ids", ids, 1, "(n_tokens,)")
    block_size = require_positive_int("block_size", block_size)
    require_positive_int("batch_size", batch_size)
    if len(ids) < block_size + 1:
        raise ValueError(
            f"ids must hold at least block_size + 1 = {block_size + 1} tokens "
            f"(a window and its next token), got {len(ids)}"
        )


def lm_batches(
    ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Batches ``(inputs, targets)`` of random windows of ``ids``, forever.

    Each row of ``inputs`` is ``block_size`` consecutive tokens starting at a
    uniformly drawn position, and the same row of ``targets`` is the window
    one token later: the model learns to predict ``targets[:, t]`` from
    ``inputs[:, : t + 1]``, every position at once.

    >>> batches = lm_batches(torch.arange(100), 8, 4, torch.Generator().manual_seed(0))
    >>> inputs, targets = next(batches)
    >>> inputs.shape, targets.shape
    (torch.Size([4, 8]), torch.Size([4, 8]))
    """
    _check_lm_batches(ids, block_size, batch_size)
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            "generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0), "
            f"got {type(generator).__name__}"
        )
    return _lm_batches(ids, block_size, batch_size, generator)


def _lm_batches(
    ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    offsets = torch.arange(block_size)  # (block,)
    while True:
        # The last window must leave one token after it, for the last target.
        starts = torch.randint(0, len(ids) - block_size, (batch_size,), generator=generator)
        positions = starts[:, None] + offsets  # (batch, block)
        yield ids[positions].long(), ids[positions + 1].long()  # (batch, block) each
