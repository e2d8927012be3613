"""The standard library's docstrings as a corpus, its splits, the two tokenizers and LM batches."""

from __future__ import annotations

import inspect
import json
import math
import sysconfig
import textwrap
from email.message import Message

import pytest

pytest.importorskip("tokenizers")  # the ipywidgets 7 test env collects every test and lacks it

import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib import corpus
from lessons_lib.corpus import (
    END_OF_TEXT,
    MIN_CHARACTERS,
    SPLITS,
    BPETokenizer,
    CharTokenizer,
    Docstring,
    characters_per_token,
    corpus_text,
    encode_split,
    lm_batches,
    per_character,
    split_corpus,
    stdlib_docstrings,
)


@pytest.fixture(scope="module")
def docs() -> list[Docstring]:
    return stdlib_docstrings()


@pytest.fixture(scope="module")
def splits(docs) -> dict[str, list[Docstring]]:
    return split_corpus(docs)


@pytest.fixture(scope="module")
def bpe(splits) -> BPETokenizer:
    return BPETokenizer.train(corpus_text(splits["train"]), vocab_size=1024)


@pytest.fixture(scope="module")
def chars(splits) -> CharTokenizer:
    return CharTokenizer.from_text(corpus_text(splits["train"]))


def n_characters(docstrings: list[Docstring]) -> int:
    return sum(len(doc.text) for doc in docstrings)


# --- collecting -----------------------------------------------------------------------


def test_the_corpus_is_large(docs):
    assert len(docs) >= 5_000
    assert n_characters(docs) >= 1_000_000


def test_no_text_twice_none_short_all_printable(docs):
    texts = [doc.text for doc in docs]
    assert len(set(texts)) == len(texts)
    assert min(map(len, texts)) >= MIN_CHARACTERS
    assert all(END_OF_TEXT not in text for text in texts)
    assert all(character.isprintable() or character == "\n" for character in "".join(set(texts)))


def test_no_tests_and_no_installed_packages(docs):
    modules = {doc.module for doc in docs}
    parts = {part for module in modules for part in module.split(".")}
    assert not parts & {"test", "tests", "idle_test", "site-packages", "__pycache__"}
    assert all(part.isidentifier() for part in parts)
    assert {"email.message", "json", "textwrap", "idlelib", "lib2to3.refactor"} <= modules


@pytest.mark.parametrize(
    ("module", "name", "documented"),
    [
        ("json", "dumps", json.dumps),
        ("textwrap", "wrap", textwrap.wrap),
        ("email.message", "Message.get_payload", Message.get_payload),
        ("inspect", "", inspect),
    ],
)
def test_a_docstring_is_what_inspect_reads_from_the_live_object(docs, module, name, documented):
    found = [doc.text for doc in docs if (doc.module, doc.name) == (module, name)]
    assert found == [inspect.getdoc(documented)]


def test_the_order_follows_the_sorted_files(docs):
    first = {}  # the position of each module's first docstring
    for index, doc in enumerate(docs):
        first.setdefault(doc.module, index)
    paths = {module: path for module, path in corpus._module_files(sysconfig.get_paths()["stdlib"])}
    ordered = sorted(first, key=first.get)
    assert ordered == sorted(ordered, key=paths.get)


def test_callers_get_a_copy_of_the_cache(docs):
    mine = stdlib_docstrings()
    mine.clear()
    assert stdlib_docstrings() == docs and len(docs) > 0


def test_the_collector_skips_what_it_should(tmp_path):
    long = "x" * MIN_CHARACTERS

    def write(relative: str, source: str) -> None:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")

    write("pkg/__init__.py", f'"""Package {long}"""\n')
    write(
        "pkg/mod.py",
        f'''
        """Module {long}"""
        import sys
        class Thing:
            """Class {long}"""
            def method(self):
                """Method {long}"""
                def inner():
                    """Inner {long}"""
        if sys.platform:
            def guarded():
                """Guarded {long}"""
        def short():
            """Short."""
        def again():
            """Class {long}"""
        def bell():
            """Bell \\x07 {long}"""
        x = (lambda: """Not a docstring {long}""")
        ''',
    )
    write("pkg/tests/test_mod.py", f'"""Test {long}"""\n')
    write("test/test_x.py", f'"""Test {long}"""\n')
    write("site-packages/lib.py", f'"""Installed {long}"""\n')
    write("config-3.11-x/tool.py", f'"""Config {long}"""\n')
    write("broken.py", f'"""Broken {long}"""\ndef (:\n')
    found = corpus._collect(str(tmp_path), MIN_CHARACTERS)
    assert [(doc.module, doc.name, doc.text.split()[0]) for doc in found] == [
        ("pkg", "", "Package"),
        ("pkg.mod", "", "Module"),
        ("pkg.mod", "Thing", "Class"),
        ("pkg.mod", "Thing.method", "Method"),
        ("pkg.mod", "Thing.method.inner", "Inner"),
        ("pkg.mod", "guarded", "Guarded"),
    ]
    assert corpus._collect(str(tmp_path), 5)[-1].name == "short"


def test_the_cycle_collector_is_restored():
    import gc

    assert gc.isenabled()
    with corpus._without_cycle_collector():
        assert not gc.isenabled()
    assert gc.isenabled()


# --- splits ---------------------------------------------------------------------------


def test_splits_are_disjoint_by_top_level_module_and_cover_the_corpus(docs, splits):
    assert list(splits) == list(SPLITS)
    modules = {name: {doc.top_level for doc in split} for name, split in splits.items()}
    assert not modules["train"] & modules["validation"]
    assert not modules["train"] & modules["test"]
    assert not modules["validation"] & modules["test"]
    assert sorted(doc.qualified_name for split in splits.values() for doc in split) == sorted(
        doc.qualified_name for doc in docs
    )
    for split in splits.values():  # each split keeps the corpus order
        positions = [docs.index(doc) for doc in split[:50]]
        assert positions == sorted(positions)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize(("validation", "test"), [(0.1, 0.1), (0.05, 0.2)])
def test_each_split_holds_about_its_fraction_of_the_characters(docs, seed, validation, test):
    splits = split_corpus(docs, validation_fraction=validation, test_fraction=test, seed=seed)
    total = n_characters(docs)
    assert abs(n_characters(splits["validation"]) / total - validation) < 0.005
    assert abs(n_characters(splits["test"]) / total - test) < 0.005


def test_splits_are_seeded(docs, splits):
    assert split_corpus(docs, seed=0) == splits

    def test_modules(seed: int) -> set[str]:
        return {doc.top_level for doc in split_corpus(docs, seed=seed)["test"]}

    assert test_modules(0) != test_modules(1)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"validation_fraction": 0.0}, ValueError, "between 0 and 1, got 0.0"),
        ({"test_fraction": 1.0}, ValueError, "between 0 and 1, got 1.0"),
        ({"validation_fraction": 0.5, "test_fraction": 0.5}, ValueError, "must be < 1"),
        ({"test_fraction": "0.1"}, TypeError, "must be a number, got str"),
        ({"seed": 0.5}, TypeError, "seed must be an int, got float"),
    ],
)
def test_bad_split_arguments_are_named(arguments, error, message):
    with pytest.raises(error, match=message):
        split_corpus([Docstring("a", "", "text")], **arguments)


def test_a_split_needs_three_top_level_modules():
    two = [Docstring("email.message", "", "text"), Docstring("json", "", "text")]
    with pytest.raises(ValueError, match=r"at least 3 top-level modules.*got 2"):
        split_corpus([*two, Docstring("email.parser", "", "more text")])
    three = split_corpus([*two, Docstring("os", "", "text")], seed=3)
    assert sorted(len(split) for split in three.values()) == [1, 1, 1]


def test_splits_and_texts_need_docstrings():
    with pytest.raises(TypeError, match="list of Docstring, got str"):
        split_corpus("some text")
    with pytest.raises(TypeError, match="got str at index 1"):
        corpus_text([Docstring("a", "", "text"), "more"])


def test_corpus_text_ends_every_docstring(splits):
    text = corpus_text(splits["validation"])
    assert text.count(END_OF_TEXT) == len(splits["validation"])
    assert text.split(END_OF_TEXT) == [doc.text for doc in splits["validation"]] + [""]
    assert len(text) == n_characters(splits["validation"]) + len(splits["validation"])


# --- the character tokenizer ----------------------------------------------------------


def test_the_character_vocabulary_is_the_training_text_plus_unknown(splits, chars):
    assert chars.vocab_size == len(set(corpus_text(splits["train"]))) + 1
    assert chars.characters[chars.unknown_id] == CharTokenizer.UNKNOWN


@given(st.data())
def test_characters_round_trip_over_the_training_alphabet(chars, data):
    text = data.draw(st.text(alphabet=st.sampled_from(chars.characters[1:])))
    ids = chars.encode(text)
    assert len(ids) == len(text) and chars.unknown_id not in ids
    assert chars.decode(ids) == text
    assert chars.decode(torch.tensor(ids, dtype=torch.long)) == text


def test_an_unseen_character_gets_the_unknown_id():
    tokenizer = CharTokenizer.from_text("abc")
    assert tokenizer.encode("azb") == [1, tokenizer.unknown_id, 2]
    assert tokenizer.decode(tokenizer.encode("azb")) == "a\ufffdb"
    assert tokenizer.tokens("a€") == ["a", "\ufffd"]


# --- the BPE tokenizer ----------------------------------------------------------------


def test_the_byte_alphabet_is_the_one_tokenizers_uses():
    from tokenizers import pre_tokenizers

    mapping = corpus._byte_to_character()
    assert sorted(mapping) == list(range(256))
    assert set(mapping.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert mapping[ord(" ")] == "Ġ" and mapping[ord("\n")] == "Ċ"


@given(st.text())
def test_bpe_round_trips_any_text(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_bpe_pieces_of_ascii_text_join_into_the_text(bpe, text):
    pieces = bpe.tokens(text)
    assert "".join(pieces) == text
    assert len(pieces) == len(bpe.encode(text))


def test_a_split_character_shows_its_bytes(bpe):
    pieces = bpe.tokens("\u4e2d")  # 中: three UTF-8 bytes, not one token in English text
    assert len(pieces) > 1
    assert "".join(pieces) == "".join(f"\\x{byte:02x}" for byte in "\u4e2d".encode())


def test_bpe_keeps_end_of_text_as_one_token(bpe):
    ids = bpe.encode(f"end.{END_OF_TEXT}Start")
    assert ids.count(bpe.encode(END_OF_TEXT)[0]) == 1 and len(bpe.encode(END_OF_TEXT)) == 1
    assert END_OF_TEXT in bpe.tokens(f"end.{END_OF_TEXT}Start")


def test_bpe_fills_its_vocabulary_with_merges(bpe):
    assert bpe.vocab_size == 1024
    merges = bpe.merges
    assert len(merges) == 1024 - 256 - 1
    for left, right in merges[:20]:  # an early merge's result is one token
        assert len(bpe.encode(left + right)) == 1, (left, right)


def test_bpe_compresses_and_beats_characters(splits, bpe, chars):
    per_bpe_token = characters_per_token(bpe, splits["validation"])
    assert per_bpe_token > 2
    assert characters_per_token(chars, splits["validation"]) == 1.0


def test_bpe_training_is_deterministic(splits, bpe):
    again = BPETokenizer.train([doc.text for doc in splits["train"]], vocab_size=1024)
    assert again.merges == bpe.merges
    assert (
        json.loads(again._tokenizer.to_str())["model"]["vocab"]
        == (json.loads(bpe._tokenizer.to_str())["model"]["vocab"])
    )
    sample = corpus_text(splits["validation"][:100])
    assert again.encode(sample) == bpe.encode(sample)


def test_a_small_text_gives_a_small_vocabulary():
    tokenizer = BPETokenizer.train("aaaa", vocab_size=1024)
    assert tokenizer.vocab_size < 1024
    assert tokenizer.tokens("aaaa") == ["aaaa"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda b: b.encode(b"bytes"), TypeError, "text must be a str, got bytes"),
        (lambda b: b.encode("a\ud800"), ValueError, "encodable as UTF-8.*index 1"),
        (lambda b: b.decode([1, 5000]), ValueError, r"\[0, 1024\).*got 5000"),
        (lambda b: b.decode([-1]), ValueError, "got -1"),
        (lambda b: b.decode([1.0]), TypeError, "must be an int, got float"),
        (lambda b: b.decode("abc"), TypeError, "list of ints or a 1-D tensor, got str"),
        (lambda b: b.decode(torch.zeros(2)), TypeError, "integer token ids"),
        (lambda b: b.decode(torch.zeros(2, 2, dtype=torch.long)), ValueError, "1 dimensions"),
    ],
)
def test_bad_tokenizer_input_is_named(bpe, call, error, message):
    with pytest.raises(error, match=message):
        call(bpe)


def test_bad_training_input_is_named():
    with pytest.raises(ValueError, match=r"vocab_size must be >= 257.*got 256"):
        BPETokenizer.train("text", vocab_size=256)
    with pytest.raises(TypeError, match="must yield str, got int at item 1"):
        BPETokenizer.train(["text", 3])
    with pytest.raises(TypeError, match="str or an iterable of str, got int"):
        BPETokenizer.train(3)
    with pytest.raises(TypeError, match="characters must be a sequence"):
        CharTokenizer("abc")
    with pytest.raises(ValueError, match="distinct"):
        CharTokenizer(["a", "a"])


# --- per character --------------------------------------------------------------------


def test_per_character_keeps_the_total_loss(splits, bpe):
    text = corpus_text(splits["validation"])
    tokens = len(bpe.encode(text))
    loss_per_token = 3.0
    nats = per_character(loss_per_token, tokens, len(text))
    assert nats * len(text) == pytest.approx(loss_per_token * tokens)
    assert nats < loss_per_token  # a BPE token covers more than one character
    assert per_character(loss_per_token, tokens=len(text), characters=len(text)) == 3.0


def test_a_uniform_guess_costs_the_same_per_character_either_way():
    # A uniform guess over 256 bytes costs ln 256 per byte; grouping the bytes two to a
    # token (65,536 pairs, uniform) costs twice that per token over half as many tokens.
    per_byte = per_character(math.log(256), tokens=1000, characters=1000)
    per_pair = per_character(math.log(256**2), tokens=500, characters=1000)
    assert per_pair == pytest.approx(per_byte)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((-1.0, 10, 10), ValueError, "finite cross-entropy >= 0, got -1.0"),
        ((math.nan, 10, 10), ValueError, "got nan"),
        ((1.0, 0, 10), ValueError, "tokens must be > 0, got 0"),
        ((1.0, 10, 2.5), TypeError, "characters must be an int, got float"),
        (("1.0", 10, 10), TypeError, "loss_per_token must be a number, got str"),
    ],
)
def test_bad_per_character_input_is_named(arguments, error, message):
    with pytest.raises(error, match=message):
        per_character(*arguments)


# --- batches --------------------------------------------------------------------------


def test_encode_split_is_the_joined_text(splits, bpe, chars):
    text = corpus_text(splits["test"])
    ids = encode_split(bpe, splits["test"])
    assert ids.dtype == torch.long and ids.dim() == 1
    assert bpe.decode(ids) == text
    ids = encode_split(chars, splits["test"])
    assert len(ids) == len(text)
    known = set(chars.characters[1:])
    assert chars.decode(ids) == "".join(c if c in known else chars.UNKNOWN for c in text)


def test_batches_are_windows_and_targets_are_shifted_by_one():
    ids = torch.arange(1000, 1100)  # token ids equal to 1000 + position
    inputs, targets = next(lm_batches(ids, 16, 32, torch.Generator().manual_seed(0)))
    assert inputs.shape == targets.shape == (32, 16)
    assert inputs.dtype == targets.dtype == torch.long
    starts = inputs[:, :1]  # (batch, 1)
    assert torch.equal(inputs, starts + torch.arange(16))  # consecutive tokens
    assert torch.equal(targets, inputs + 1)  # the next token of each
    assert torch.equal(targets[:, :-1], inputs[:, 1:])


def test_every_window_fits_and_every_start_is_drawn():
    ids = torch.arange(11)  # block_size 8: windows may start at 0, 1 or 2
    batches = lm_batches(ids, 8, 64, torch.Generator().manual_seed(0))
    starts = torch.cat([next(batches)[0][:, 0] for _ in range(5)])
    assert set(starts.tolist()) == {0, 1, 2}


def test_batches_are_seeded(splits, chars):
    ids = encode_split(chars, splits["validation"])

    def first_two(seed: int) -> list[torch.Tensor]:
        batches = lm_batches(ids, 32, 4, torch.Generator().manual_seed(seed))
        return [tensor for _ in range(2) for tensor in next(batches)]

    assert all(map(torch.equal, first_two(0), first_two(0)))
    assert not torch.equal(first_two(0)[0], first_two(1)[0])


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((torch.arange(10.0), 4, 2), TypeError, "token ids.*got dtype torch.float32"),
        ((torch.zeros(2, 10, dtype=torch.long), 4, 2), ValueError, "1 dimensions"),
        ((torch.arange(8), 8, 2), ValueError, "at least block_size \\+ 1 = 9 tokens.*got 8"),
        ((torch.arange(10), 0, 2), ValueError, "block_size must be > 0, got 0"),
        ((torch.arange(10), 4, 2.0), TypeError, "batch_size must be an int, got float"),
        (([1, 2, 3], 1, 1), TypeError, "ids must be a torch.Tensor, got list"),
    ],
)
def test_bad_batch_input_is_named_at_the_call(arguments, error, message):
    with pytest.raises(error, match=message):
        lm_batches(*arguments, torch.Generator())  # no next(): the call itself refuses


def test_batches_need_a_generator():
    with pytest.raises(TypeError, match=r"torch.Generator.*got int"):
        lm_batches(torch.arange(10), 4, 2, 0)
