"""The live readers (lessons_lib/live.py), their ONNX export, and the step that puts them online.

The readers are checked against the functions the chapters use (``greedy_decode``,
``generate``'s trace, ``date_cross_attention``, ``attention_rollout``) with the same weights,
on random sources and on real test dates; the exported files (tools/export_live_models.py,
exported once for this module) against torch with onnxruntime's Python package, on 200 test
dates and 100 test digits; the Sphinx step (_ext/lessons_book/live.py) with a tiny project.
"""

import datetime
import shutil
import sys
from pathlib import Path

import pytest
import torch

from lessons_lib.data import DATE_FORMATS, DateBatch, DateTask, load_digits_split
from lessons_lib.decoding import generate, greedy_decode
from lessons_lib.experiments.transformer import date_cross_attention
from lessons_lib.live import (
    NOT_A_CHARACTER,
    DateReader,
    DateReading,
    DigitReader,
    DigitReading,
    read_date,
    read_digit,
)
from lessons_lib.pretrained import load_date_model, load_digit_vit
from lessons_lib.training import DateRecipe
from lessons_lib.transformer import Transformer
from lessons_lib.vit import DIGITS_VIT, ViT, attention_rollout

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "_ext"))

import export_live_models  # noqa: E402

TASK = DateTask()
ONNX_TOLERANCE = 1e-5
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def fresh_models() -> tuple[Transformer, ViT]:
    """Untrained models of the shipped sizes (chapter 06's recipe, chapter 11's DIGITS_VIT)."""
    recipe = DateRecipe()
    torch.manual_seed(0)
    date_model = Transformer(
        TASK.vocab_size,
        d_model=recipe.d_model,
        num_heads=recipe.num_heads,
        num_layers=recipe.num_layers,
        d_ff=recipe.d_ff,
        max_len=TASK.max_source_length,
    )
    return date_model.eval(), ViT(**DIGITS_VIT).eval()


@pytest.fixture(scope="module")
def models() -> tuple[Transformer, ViT]:
    """The shipped models (lessons_lib/weights), which the build exports."""
    return load_date_model(), load_digit_vit()


@pytest.fixture(scope="module")
def date_reader(models) -> DateReader:
    return DateReader(models[0], TASK)


@pytest.fixture(scope="module")
def digit_reader(models) -> DigitReader:
    return DigitReader(models[1])


@pytest.fixture(scope="module")
def test_dates() -> DateBatch:
    return TASK.sample(200, torch.Generator().manual_seed(25), "test")


@pytest.fixture(scope="module")
def test_digits() -> torch.Tensor:
    return load_digits_split()[2].images[:100]  # (100, 1, 8, 8)


def random_sources(n: int, seed: int) -> DateBatch:
    """Random characters of random lengths (1..30), padded: inputs outside every format."""
    generator = torch.Generator().manual_seed(seed)
    length = TASK.max_source_length
    lengths = torch.randint(1, length + 1, (n,), generator=generator)
    tokens = torch.randint(2, TASK.vocab_size, (n, length), generator=generator)
    tokens[torch.arange(length)[None, :] >= lengths[:, None]] = TASK.pad  # (n, 30)
    targets = torch.zeros(n, TASK.target_length, dtype=torch.long)  # not read
    zeros = torch.zeros(n, dtype=torch.long)
    return DateBatch(tokens, targets, lengths, zeros, zeros)


# --- the date reader against the chapters' decoding ---------------------------------------


@pytest.mark.parametrize("kind", ["test dates", "random characters"])
def test_date_reader_is_greedy_decoding(date_reader, models, test_dates, kind):
    model = models[0]
    batch = test_dates if kind == "test dates" else random_sources(64, seed=1)
    with torch.no_grad():
        answer, probability, cross = date_reader(batch.sources)
    # the reader reruns the decoder over the prefix: exactly greedy_decode without the cache
    steps = TASK.target_length
    trace = generate(
        model, batch.sources, TASK.bos, steps=steps, use_cache=False, source_mask=batch.source_mask
    )
    assert torch.equal(answer, trace.tokens)
    chosen = trace.probabilities.gather(-1, trace.tokens[..., None])[..., 0]  # (n, 10)
    torch.testing.assert_close(probability, chosen, atol=1e-6, rtol=0)
    # and, with the key/value cache, the same answers and step-by-step cross-attention
    cached = generate(model, batch.sources, TASK.bos, steps=steps, source_mask=batch.source_mask)
    assert torch.equal(answer, cached.tokens)
    torch.testing.assert_close(cross, cached.cross_attention, atol=1e-5, rtol=0)
    # cross: date_cross_attention's last layer, mean of the heads
    attention = date_cross_attention(model, batch, TASK.bos)
    assert torch.equal(attention.outputs, answer)
    torch.testing.assert_close(cross, attention.cross[:, -1].mean(dim=1), atol=1e-6, rtol=0)
    padding = torch.arange(TASK.max_source_length)[None, :] >= batch.lengths[:, None]  # (n, 30)
    assert (cross.masked_select(padding[:, None, :].expand_as(cross)) == 0).all()
    torch.testing.assert_close(cross.sum(-1), torch.ones_like(probability), atol=1e-5, rtol=0)
    assert ((probability > 0) & (probability <= 1)).all()
    if kind == "test dates":  # the shipped model reads them (>= 99% on its recorded test dates)
        assert (answer == batch.targets).all(dim=1).float().mean() >= 0.99


def test_read_date_writes_the_answer_of_greedy_decode(date_reader, models):
    dates = [datetime.date(2026, 11, 27), datetime.date(1969, 1, 1), datetime.date(2068, 12, 31)]
    batch = TASK.make_batch(dates, [DATE_FORMATS[1], DATE_FORMATS[3], DATE_FORMATS[2]])
    for index in range(len(dates)):
        text = TASK.decode(batch.sources[index])
        reading = read_date(date_reader, TASK, text)
        assert isinstance(reading, DateReading) and reading.text == text
        tokens = greedy_decode(
            models[0],
            batch.sources[index : index + 1],
            TASK.bos,
            10,
            source_mask=batch.source_mask[index : index + 1],
        )[0]
        assert reading.answer == "".join(
            TASK.token_names[t] if t >= 2 else NOT_A_CHARACTER for t in tokens.tolist()
        )
        assert len(reading.probabilities) == 10 and all(
            isinstance(p, float) for p in reading.probabilities
        )
        assert reading.cross.shape == (10, len(text))
        torch.testing.assert_close(reading.cross.sum(-1), torch.ones(10), atol=1e-5, rtol=0)


def test_read_date_shows_the_padding_and_begin_tokens_as_one_mark():
    model = fresh_models()[0]
    with torch.no_grad():
        model.output.bias[TASK.pad] = 1e3  # every step chooses the padding token
    assert read_date(DateReader(model, TASK), TASK, "Nov 27, 2026").answer == NOT_A_CHARACTER * 10
    with torch.no_grad():
        model.output.bias[TASK.pad] = 0.0
        model.output.bias[TASK.bos] = 1e3
    assert read_date(DateReader(model, TASK), TASK, "1").answer == NOT_A_CHARACTER * 10


def test_date_reader_refuses_bad_models_and_sources(models, date_reader):
    with pytest.raises(TypeError, match="model must be a Transformer, got ViT"):
        DateReader(models[1], TASK)
    with pytest.raises(TypeError, match="task must be a DateTask"):
        DateReader(models[0], "dates")
    small = Transformer(12, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=30)
    with pytest.raises(ValueError, match=f"vocab_size=12 but the task has {TASK.vocab_size}"):
        DateReader(small, TASK)
    short = Transformer(TASK.vocab_size, d_model=8, num_heads=2, num_layers=1, d_ff=16, max_len=20)
    with pytest.raises(ValueError, match="max_len=20, fewer positions"):
        DateReader(short, TASK)
    with pytest.raises(TypeError, match=r"source must hold token ids .* got dtype torch.float32"):
        date_reader(torch.zeros(1, 30))
    with pytest.raises(ValueError, match=r"source must be \(batch, 30\).* got shape \(1, 29\)"):
        date_reader(torch.zeros(1, 29, dtype=torch.long))
    with pytest.raises(ValueError, match="source must have 2 dimensions"):
        date_reader(torch.zeros(30, dtype=torch.long))


def test_read_date_refuses_text_it_cannot_read(date_reader):
    with pytest.raises(ValueError) as caught:
        read_date(date_reader, TASK, "27.11.2026 @ noon!")
    message = str(caught.value)
    assert "['!', '@']" in message and repr(TASK.characters) in message  # what it knows
    with pytest.raises(ValueError, match="1 to 30 characters, got 31"):
        read_date(date_reader, TASK, "1" * 31)
    with pytest.raises(ValueError, match="1 to 30 characters, got 0"):
        read_date(date_reader, TASK, "")
    with pytest.raises(TypeError, match="text must be a str, got int"):
        read_date(date_reader, TASK, 20261127)
    with pytest.raises(TypeError, match="reader must be a DateReader, got Transformer"):
        read_date(date_reader.model, TASK, "Nov 27, 2026")
    with pytest.raises(TypeError, match="task must be a DateTask"):
        read_date(date_reader, None, "Nov 27, 2026")


# --- the digit reader against the chapter's rollout ---------------------------------------


def test_digit_reader_is_the_vits_probabilities_and_rollout(digit_reader, models, test_digits):
    images = torch.cat(
        [test_digits, torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(3))]
    )
    with torch.no_grad():
        probability, rollout = digit_reader(images)
        logits, maps = models[1](images, need_weights=True)
    torch.testing.assert_close(probability, torch.softmax(logits, -1), atol=1e-6, rtol=0)
    full = attention_rollout(maps)  # (n, 17, 17)
    torch.testing.assert_close(rollout, full[:, 0, 1:], atol=1e-6, rtol=0)
    # the patches' shares and the class token's own make the whole row
    torch.testing.assert_close(rollout.sum(-1) + full[:, 0, 0], torch.ones(len(images)))
    labels = load_digits_split()[2].labels[:100]
    assert (probability[:100].argmax(dim=-1) == labels).float().mean() >= 0.9  # shipped: 0.95
    # read_digit: one image, the rollout on the 4x4 patch grid, row-major
    reading = read_digit(digit_reader, images[5, 0])
    assert isinstance(reading, DigitReading)
    torch.testing.assert_close(reading.probabilities, probability[5], atol=1e-6, rtol=0)
    assert reading.rollout.shape == (4, 4)
    torch.testing.assert_close(reading.rollout.flatten(), rollout[5], atol=1e-6, rtol=0)
    again = read_digit(digit_reader, images[5:6])  # (1, 1, 8, 8) too
    torch.testing.assert_close(again.rollout, reading.rollout, atol=0, rtol=0)


def test_digit_reader_refuses_bad_images(models, digit_reader):
    with pytest.raises(TypeError, match="model must be a ViT, got Transformer"):
        DigitReader(models[0])
    with pytest.raises(TypeError, match="reader must be a DigitReader"):
        read_digit(models[1], torch.zeros(8, 8))
    with pytest.raises(TypeError, match="image must be a floating-point tensor"):
        read_digit(digit_reader, torch.zeros(8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"one 8x8 grey image.* got shape \(7, 8\)"):
        read_digit(digit_reader, torch.zeros(7, 8))
    with pytest.raises(ValueError, match=r"got shape \(2, 1, 8, 8\)"):
        read_digit(digit_reader, torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\].* from 0.0 to 16.0"):
        read_digit(digit_reader, torch.full((8, 8), 16.0).tril())
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\]"):
        read_digit(digit_reader, torch.full((8, 8), float("nan")))
    with pytest.raises(ValueError, match="images are 6x6 but this ViT was built for image_size=8"):
        digit_reader(torch.zeros(1, 1, 6, 6))


# --- the ONNX files against torch ---------------------------------------------------------


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    folder = tmp_path_factory.mktemp("live")
    return export_live_models.export_live_models(folder, log=lambda line: None)  # the shipped


def session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # as the page runs it (and quicker on a busy machine)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_the_files_have_the_pages_names_and_shapes(exported):
    shapes = {
        "date_model": (
            {"source": [1, 30]},
            {"answer": [1, 10], "probability": [1, 10], "cross": [1, 10, 30]},
        ),
        "digit_vit": ({"image": [1, 1, 8, 8]}, {"probability": [1, 10], "rollout": [1, 16]}),
    }
    for name, (inputs, outputs) in shapes.items():
        run = session(exported[name])
        assert {item.name: item.shape for item in run.get_inputs()} == inputs
        assert {item.name: item.shape for item in run.get_outputs()} == outputs
        assert exported[name].stat().st_size < 1_000_000  # the shared weights keep them small


def test_onnxruntime_reads_200_test_dates_as_torch_does(exported, date_reader, test_dates):
    run = session(exported["date_model"])
    worst = {"probability": 0.0, "cross": 0.0}
    for source in test_dates.sources.split(1):  # (1, 30), as the page runs it
        with torch.no_grad():
            answer, probability, cross = date_reader(source)
        got = run.run(None, {"source": source.numpy()})
        assert got[0].tolist() == answer.tolist()
        for name, want, have in zip(["probability", "cross"], [probability, cross], got[1:]):
            worst[name] = max(worst[name], float((want - torch.from_numpy(have)).abs().max()))
    assert worst["probability"] < ONNX_TOLERANCE and worst["cross"] < ONNX_TOLERANCE, worst


def test_onnxruntime_reads_100_test_digits_as_torch_does(exported, digit_reader, test_digits):
    run = session(exported["digit_vit"])
    for image in test_digits.split(1):  # (1, 1, 8, 8)
        with torch.no_grad():
            probability, rollout = digit_reader(image)
        got_probability, got_rollout = run.run(None, {"image": image.numpy()})
        torch.testing.assert_close(
            torch.from_numpy(got_probability), probability, atol=ONNX_TOLERANCE, rtol=0
        )
        torch.testing.assert_close(
            torch.from_numpy(got_rollout), rollout, atol=ONNX_TOLERANCE, rtol=0
        )


def test_the_check_refuses_a_file_that_answers_otherwise(exported, models):
    other = fresh_models()[0]
    with torch.no_grad():
        other.output.bias += torch.linspace(0, 3, TASK.vocab_size)  # other answers
    reader = DateReader(other, TASK)
    inputs = export_live_models.check_inputs("date_model", reader)
    with pytest.raises(RuntimeError, match="onnxruntime answered"):
        export_live_models.check_export("date_model", exported["date_model"], reader, inputs)
    with pytest.raises(RuntimeError, match="has inputs \\['image'\\]"):
        export_live_models.check_export("date_model", exported["digit_vit"], reader, inputs)


def test_the_export_is_cached_until_its_inputs_change(exported, models, tmp_path, monkeypatch):
    folder = exported["date_model"].parent
    times = {name: path.stat().st_mtime_ns for name, path in exported.items()}
    assert export_live_models.export_live_models(folder) == exported
    assert {name: path.stat().st_mtime_ns for name, path in exported.items()} == times  # not redone
    key = export_live_models.inputs_key()
    assert export_live_models.cached_exports(folder) == exported
    # other shipped weights: another key
    weights = tmp_path / "weights"
    shutil.copytree(export_live_models.WEIGHTS, weights)
    monkeypatch.setattr(export_live_models, "WEIGHTS", weights)
    assert export_live_models.inputs_key() == key
    with open(weights / "digit_vit.pt", "ab") as file:
        file.write(b"\0")
    assert export_live_models.inputs_key() != key
    assert export_live_models.cached_exports(folder) is None
    # models given by hand: their weights are the key
    changed = fresh_models()[0]
    by_hand = [export_live_models._state_bytes(model, models[1]) for model in (models[0], changed)]
    assert by_hand[0] != by_hand[1]
    # a file changed by hand is not current
    copy = tmp_path / "live"
    shutil.copytree(folder, copy)
    assert export_live_models.cached_exports(copy, key) is not None
    with open(copy / "date_model.onnx", "ab") as file:
        file.write(b"\0")
    assert export_live_models.cached_exports(copy, key) is None
    # the key reads the readers' code: live.py and the models it runs, not the widgets
    names = {path.name for path in export_live_models.source_files()}
    assert {"live.py", "pretrained.py", "transformer.py", "vit.py", "attention.py"} <= names
    assert "decoding.py" not in names and "plotting.py" not in names


# --- the Sphinx step ----------------------------------------------------------------------


def test_a_built_site_gets_the_models_and_the_runtime(exported, tmp_path, monkeypatch):
    from lessons_book import live
    from sphinx.application import Sphinx
    from sphinx.errors import ExtensionError

    live.check_runtime_installed()  # tools/vendor holds onnxruntime-web (npm ci)
    assert live.exported_models(exported["date_model"].parent) == exported  # current: no export
    monkeypatch.setattr(live, "exported_models", lambda folder=None: exported)
    source = tmp_path / "source"
    source.mkdir()
    (source / "conf.py").write_text(
        "from lessons_book import live\n"
        "def setup(app):\n"
        "    app.connect('builder-inited', live.prepare_live_models)\n"
        "    app.connect('build-finished', live.copy_live_models)\n"
    )
    (source / "index.rst").write_text("Live\n====\n\nA page.\n")
    for builder in ("html", "text"):
        outdir = tmp_path / builder
        app = Sphinx(
            source, source, outdir, tmp_path / "doctrees", builder, status=None, warning=None
        )
        app.build()
        static = outdir / "_static"
        if builder == "text":
            assert not static.exists()  # only the html builder gets them
            continue
        for name, path in exported.items():
            assert (static / "live" / f"{name}.onnx").read_bytes() == path.read_bytes()
        for name in live.ORT_FILES:
            copied, vendored = static / "ort" / name, live.ORT_SOURCE / name
            assert copied.stat().st_size == vendored.stat().st_size > 0
        assert sorted(p.name for p in (static / "ort").iterdir()) == sorted(live.ORT_FILES)
    with pytest.raises(ExtensionError, match=r"onnxruntime-web is not installed .*npm ci"):
        live.check_runtime_installed(tmp_path)


def test_a_failed_export_stops_the_build_with_its_output(tmp_path, monkeypatch):
    from lessons_book import live
    from sphinx.errors import ExtensionError

    broken = tmp_path / "export.py"
    broken.write_text("import sys\nprint('the exporter says why')\nsys.exit(1)\n")
    live.exporter()  # load the real tools/export_live_models.py: it checks the (empty) cache
    monkeypatch.setattr(live, "EXPORTER", broken)  # and the child process runs this one
    with pytest.raises(ExtensionError, match="failed; its last lines:\n  the exporter says why"):
        live.exported_models(tmp_path / "empty")
