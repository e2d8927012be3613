"""The static page's live cells: the reader's own input, run in the browser by onnxruntime-web.

An explorer (:mod:`lessons_lib.widgets.static`) replays frames computed at build time. A
live cell runs a trained model, exported to ONNX by the build, on whatever the reader types
or draws:

- :func:`date_live_html`: a text box; the date model's answer, each written character with
  its probability, and the cross-attention heatmap (written x typed characters);
- :func:`digit_live_html`: an 8x8 drawing grid; the digit ViT's ten class probabilities
  as bars, and the attention rollout over the 4x4 patches.

Each returns self-contained HTML, like the explorers' static form: a
``<div class="lessons-live" data-live="date|digit">`` holding its style, its
configuration as JSON and the player script ``live_player.js`` (shipped beside this
module). The player shows the configuration's ``initial`` reading, computed in Python when
the book was built, so the cell is never empty. Nothing of onnxruntime-web or the models is
requested until the reader first uses the cell (focus or typing in the box, a stroke on the
grid, a button); then the page imports ``_static/ort/ort.wasm.min.mjs`` (one thread) and
opens ``_static/live/date_model.onnx`` or ``digit_vit.onnx``, both found from ``<html
data-content_root>``, once per page. Opened from disk (``file://``), one line says that the
live model needs the page served over http.

For tests, the cell's element carries ``data-state`` (``idle | loading | ready | error``),
``data-request`` (inputs seen) and ``data-answered`` (the input the shown answer belongs
to), ``data-runs`` (model runs), ``data-answer``, and a ``lessonsLive`` property holding
the last result: ``{text, answer, probability, cross}`` or ``{pixels, probability,
rollout}``.

Layer: presentation.

    >>> html = digit_live_html({"test_digits": [{"label": 0, "pixels": [0.0] * 64}],
    ...     "initial": {"pixels": [0.0] * 64, "probability": [0.1] * 10,
    ...                 "rollout": [1 / 16] * 16}})
    >>> html.startswith('<div class="lessons-live lessons-live-digit" data-live="digit"')
    True
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.resources
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lessons_lib.language import translate
from lessons_lib.live import NOT_A_CHARACTER

IMAGE_SIZE = 8  # the digits are 8x8 pixels
N_PATCHES = 16  # 2x2 patches: a 4x4 grid
N_CLASSES = 10
DATE_MODEL = "date_model.onnx"  # under _static/live/ in the built site
DIGIT_MODEL = "digit_vit.onnx"

# Every word the date cell shows, in English; ``config["labels"]`` may replace any of them.
# ``{name}`` marks a number or text that the player fills in.
DATE_LABELS = {
    "formats": "The model was trained on dates written in these formats:",
    "box": "Type a date",
    "suggestions": "Outside them, where it may go wrong:",
    "answer": "The model writes",
    "probabilities": "Under each written character: the probability the model gave it. "
    "Orange marks a guess.",
    "probability": "probability",
    "heatmap": "Cross-attention of the last decoder layer, mean of the heads: each written "
    "character (row) over the typed characters (columns); darker means more weight.",
    "heatmap_name": "Cross-attention heatmap",
    "heatmap_summary": "Cross-attention heatmap, {rows} written characters by {columns} typed "
    "characters. Each written character reads most from:",
    "typed": "typed",
    "written": "written",
    "allowed": "The model reads only these characters:",
    "refused": "Not among them:",
    "too_long": "At most {max} characters: this has {n}.",
    "empty": "Type a date to see the model's answer.",
    "space": "space",
    "initial": "Worked out when the book was built. Type to run the model in your browser.",
    "loading": "Loading the model into your browser…",
    "file": "The live model needs the page served over http (for example, run "
    "python -m http.server in the built book's folder); what is shown was worked out when "
    "the book was built.",
    "error": "The live model could not start:",
}
DIGIT_LABELS = {
    "grid": "Drawing grid, 8 by 8 pixels",
    "help": "Click or drag to paint, again to erase. With the keyboard: the arrow keys move, "
    "Space or Enter switches a pixel.",
    "cell": "row {row}, column {column}",
    "load": "Load a test digit",
    "clear": "Clear",
    "test_digit": "Test digit {index} of {count}, labelled {label}.",
    "drawn": "Your drawing.",
    "reads": "The model reads {digit} ({percent}).",
    "bars": "Class probabilities",
    "rollout": "Attention rollout over the 4×4 patches: how much of each 2×2 patch reaches the "
    "class token; darker means more.",
    "rollout_summary": "Attention rollout, 4 by 4 patches; the most attended patch is row "
    "{row}, column {column} ({percent}).",
    "initial": "Worked out when the book was built. Draw to run the model in your browser.",
    "loading": "Loading the model into your browser…",
    "file": DATE_LABELS["file"],
    "error": DATE_LABELS["error"],
}

# The cells' look, scoped to .lessons-live; at 375 px everything stacks and nothing is wider
# than the column. Colours keep a contrast of at least 4.5:1 for text.
LIVE_CSS = """
.lessons-live{box-sizing:border-box;max-width:100%;margin:1rem 0;padding:.75rem;
 border:1px solid #c4c4c4;border-radius:.4rem;background:#fff;color:#1a1a1a}
.lessons-live *{box-sizing:border-box}
.lessons-live p{margin:.4rem 0}
.lessons-live code{color:#1a1a1a;background:#f2f2f2;padding:0 .2em;border-radius:.2em}
.lessons-live-formats{margin:.2rem 0 .6rem;padding-left:1.2rem}
.lessons-live-label{display:block;font-weight:600;margin:.4rem 0 .2rem}
.lessons-live-input{width:100%;max-width:24em;padding:.45em .5em;font:inherit;
 font-family:monospace;font-size:1.05rem;color:#1a1a1a;background:#fff;
 border:1px solid #595959;border-radius:.3rem}
.lessons-live button{font:inherit;color:#1a1a1a;background:#f0f0f0;border:1px solid #595959;
 border-radius:.3rem;cursor:pointer}
.lessons-live button:focus-visible,.lessons-live-input:focus-visible{outline:3px solid #0b5cad;
 outline-offset:1px}
.lessons-live-suggestions{display:flex;flex-wrap:wrap;align-items:center;gap:.3rem;
 margin:.5rem 0}
.lessons-live-suggestions button{min-height:44px;padding:.2rem .6rem;font-family:monospace}
.lessons-live-message{margin:.4rem 0;color:#8a1c00}
.lessons-live-message:empty{display:none}
.lessons-live-note{font-size:.9rem;color:#4a4a4a}
.lessons-live-chars{display:flex;flex-wrap:wrap;gap:3px;margin:.3rem 0}
.lessons-live-char{display:inline-flex;flex-direction:column;align-items:center;
 min-width:2.4em;padding:.15em .15em;border:1px solid #b0b0b0;border-radius:.2rem}
.lessons-live-char b{font-family:monospace;font-size:1.3rem;line-height:1.2}
.lessons-live-char small{font-size:.75rem}
.lessons-live-figure{margin:.6rem 0 0;max-width:100%}
.lessons-live-figure svg{display:block;max-width:100%;height:auto}
.lessons-live-heatmap .lessons-live-svg{overflow-x:auto;max-width:100%}
.lessons-live-figure figcaption{font-size:.9rem;color:#4a4a4a;margin-top:.3rem}
.lessons-live-toolbar{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}
.lessons-live-toolbar button{min-height:44px;padding:.2rem .8rem}
.lessons-live-panels{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start;
 margin-top:.6rem}
.lessons-live-grid{display:grid;grid-template-columns:repeat(8,minmax(0,1fr));gap:2px;
 width:min(100%,18rem);touch-action:none;user-select:none;-webkit-user-select:none}
.lessons-live .lessons-live-cell{aspect-ratio:1;min-width:0;padding:0;border:1px solid #8c8c8c;
 border-radius:2px;background:#fff;cursor:crosshair}
.lessons-live-rollout{flex:0 1 12rem;max-width:12rem}
.lessons-live-rollout svg{width:100%;max-width:9rem}
.lessons-live-bars{flex:1 1 100%;max-width:24rem}
.lessons-live-bars p{font-weight:600}
.lessons-live-bar-row{display:grid;grid-template-columns:1.2em 1fr 3.4em;gap:.4em;
 align-items:center;font-size:.95rem}
.lessons-live-bar-track{height:.8em;background:#ececec}
.lessons-live-bar{height:100%;background:#4a78b0}
.lessons-live-bar-row.lessons-live-best .lessons-live-bar{background:#b34700}
.lessons-live-bar-row span:last-child{text-align:right;font-variant-numeric:tabular-nums}
"""


@functools.cache
def player_script() -> str:
    """The live cells' JavaScript, read from the package's ``live_player.js``."""
    source = importlib.resources.files("lessons_lib.widgets").joinpath("live_player.js")
    return source.read_text(encoding="utf-8")


def _require_mapping(name: str, value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    return value


def _require_keys(name: str, value: Mapping[str, Any], keys: Sequence[str]) -> None:
    missing = [key for key in keys if key not in value]
    if missing:
        raise ValueError(f"{name} needs the keys {list(keys)}; missing: {missing}")


def _numbers(name: str, value: object, length: int) -> list[float]:
    """``value`` as ``length`` finite floats."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of {length} numbers, got {type(value).__name__}")
    if len(value) != length:
        raise ValueError(f"{name} must hold {length} numbers, got {len(value)}")
    numbers = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise TypeError(f"{name} must hold numbers, got {type(item).__name__}: {item!r:.40}")
        if not math.isfinite(item):
            raise ValueError(f"{name} must hold finite numbers, got {item}")
        numbers.append(float(item))
    return numbers


def _pixels(name: str, value: object) -> list[float]:
    """An 8x8 image, flat (64) or as 8 rows of 8, as 64 numbers in [0, 1], row-major."""
    if (
        isinstance(value, Sequence)
        and len(value) == IMAGE_SIZE
        and all(isinstance(row, Sequence) and not isinstance(row, str) for row in value)
    ):
        value = [pixel for row in value for pixel in _numbers(f"{name}'s row", row, IMAGE_SIZE)]
    pixels = _numbers(name, value, IMAGE_SIZE * IMAGE_SIZE)
    outside = [pixel for pixel in pixels if not 0.0 <= pixel <= 1.0]
    if outside:
        raise ValueError(f"{name} must lie in [0, 1], got {outside[0]}")
    return pixels


def _strings(name: str, value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError(f"{name} must hold strings only, got {value!r:.80}")
    return list(value)


def _labels(config: Mapping[str, Any], defaults: Mapping[str, str]) -> dict[str, str]:
    """The defaults in the current language (:func:`translate`), then ``config["labels"]``."""
    given = _require_mapping("config['labels']", config.get("labels", {}))
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(f"config['labels'] may name {sorted(defaults)}; unknown: {unknown}")
    labels = {key: translate(text) for key, text in defaults.items()}
    labels.update({key: str(text) for key, text in given.items()})
    return labels


def date_config(config: object) -> dict[str, Any]:
    """The date cell's configuration, checked and completed (labels filled in).

    Keys: ``characters`` (token ``i + 2`` is ``characters[i]``; 0 pads, 1 begins),
    ``max_source_length``, ``target_length``, ``formats`` (example dates, one per
    trained format), ``suggestions`` (inputs outside them), ``initial`` (``text``,
    ``answer``, ``probability`` (target_length), ``cross`` (target_length rows of
    ``len(text)``)), and optionally ``labels`` (see :data:`DATE_LABELS`) and ``model``
    (the file under ``_static/live/``).
    """
    config = _require_mapping("config", config)
    keys = ("characters", "max_source_length", "target_length", "formats", "suggestions")
    _require_keys("the date cell's config", config, (*keys, "initial"))
    characters = config["characters"]
    if not isinstance(characters, str) or not characters:
        raise TypeError(f"config['characters'] must be a non-empty string, got {characters!r:.40}")
    if len(set(characters)) != len(characters):
        raise ValueError(f"config['characters'] must not repeat a character, got {characters!r}")
    sizes = {}
    for key in ("max_source_length", "target_length"):
        size = config[key]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"config[{key!r}] must be a positive int, got {size!r}")
        sizes[key] = size
    initial = _require_mapping("config['initial']", config["initial"])
    _require_keys("config['initial']", initial, ("text", "answer", "probability", "cross"))
    text, answer = initial["text"], initial["answer"]
    if not isinstance(text, str) or not isinstance(answer, str):
        raise TypeError("config['initial'] text and answer must be strings")
    if not 0 < len(text) <= sizes["max_source_length"] or set(text) - set(characters):
        raise ValueError(
            f"config['initial']['text'] must be 1 to {sizes['max_source_length']} characters "
            f"of config['characters'], got {text!r}"
        )
    rows = initial["cross"]
    if isinstance(rows, str) or not isinstance(rows, Sequence):
        raise TypeError(f"config['initial']['cross'] must be a list of rows, got {rows!r:.40}")
    if len(rows) != sizes["target_length"]:
        raise ValueError(
            f"config['initial']['cross'] must have target_length={sizes['target_length']} "
            f"rows, got {len(rows)}"
        )
    return {
        "characters": characters,
        **sizes,
        "formats": _strings("config['formats']", config["formats"]),
        "suggestions": _strings("config['suggestions']", config["suggestions"]),
        "initial": {
            "text": text,
            "answer": answer,
            "probability": _numbers(
                "config['initial']['probability']",
                initial["probability"],
                sizes["target_length"],
            ),
            "cross": [
                _numbers("a row of config['initial']['cross']", row, len(text)) for row in rows
            ],
        },
        "not_a_character": NOT_A_CHARACTER,
        "model": str(config.get("model", DATE_MODEL)),
        "labels": _labels(config, DATE_LABELS),
    }


def digit_config(config: object) -> dict[str, Any]:
    """The digit cell's configuration, checked and completed (labels filled in).

    Keys: ``test_digits`` (a list of ``{"label": int, "pixels": 64 numbers in [0, 1]}``,
    row-major; 8 rows of 8 are flattened), ``initial`` (``pixels``, ``probability``
    (10), ``rollout`` (16, the 4x4 patches row-major)), and optionally ``labels``
    (see :data:`DIGIT_LABELS`) and ``model``.
    """
    config = _require_mapping("config", config)
    _require_keys("the digit cell's config", config, ("test_digits", "initial"))
    digits = config["test_digits"]
    if isinstance(digits, str) or not isinstance(digits, Sequence) or not digits:
        raise ValueError(f"config['test_digits'] must be a non-empty list, got {digits!r:.40}")
    test_digits = []
    for index, digit in enumerate(digits):
        digit = _require_mapping(f"config['test_digits'][{index}]", digit)
        _require_keys(f"config['test_digits'][{index}]", digit, ("label", "pixels"))
        label = digit["label"]
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < N_CLASSES:
            raise ValueError(
                f"config['test_digits'][{index}]['label'] must be an int 0..9, got {label!r}"
            )
        pixels = _pixels(f"config['test_digits'][{index}]['pixels']", digit["pixels"])
        test_digits.append({"label": label, "pixels": pixels})
    initial = _require_mapping("config['initial']", config["initial"])
    _require_keys("config['initial']", initial, ("pixels", "probability", "rollout"))
    return {
        "test_digits": test_digits,
        "initial": {
            "pixels": _pixels("config['initial']['pixels']", initial["pixels"]),
            "probability": _numbers(
                "config['initial']['probability']", initial["probability"], N_CLASSES
            ),
            "rollout": _numbers("config['initial']['rollout']", initial["rollout"], N_PATCHES),
        },
        "model": str(config.get("model", DIGIT_MODEL)),
        "labels": _labels(config, DIGIT_LABELS),
    }


def _fill(template: str, **values: object) -> str:
    """``template`` with each ``{name}`` replaced by its value (as the player fills them)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def _json_script(config: Mapping[str, Any]) -> str:
    """The configuration as JSON that no ``</script>`` inside a string can end early."""
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    return f'<script type="application/json" class="lessons-live-config">{data}</script>'


def _cell_id(kind: str, config: Mapping[str, Any]) -> str:
    """An id for the cell's elements, the same for the same configuration (stable builds)."""
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()
    return f"lessons-live-{kind}-{digest[:10]}"


def _cell(kind: str, cell_id: str, config: Mapping[str, Any], body: str) -> str:
    return (
        f'<div class="lessons-live lessons-live-{kind}" data-live="{kind}" data-state="idle" '
        f'id="{cell_id}">'
        f"<style>{LIVE_CSS}</style>"
        f"{body}"
        f"{_json_script(config)}"
        f"<script>{player_script()}</script>"
        "</div>"
    )


def date_live_html(config: Mapping[str, Any]) -> str:
    """Self-contained HTML + JS: a text box the date model answers in the page.

    ``config``: see :func:`date_config`. The player draws the answer and the heatmap
    (``initial`` until the reader first types).
    """
    config = date_config(config)
    labels = config["labels"]
    cell_id = _cell_id("date", config)
    escape = html.escape
    formats = "".join(f"<li><code>{escape(text)}</code></li>" for text in config["formats"])
    suggestions = "".join(
        f'<button type="button" data-text="{escape(text, quote=True)}">{escape(text)}</button>'
        for text in config["suggestions"]
    )
    body = (
        f'<p id="{cell_id}-formats">{escape(labels["formats"])}</p>'
        f'<ul class="lessons-live-formats">{formats}</ul>'
        f'<label class="lessons-live-label" for="{cell_id}-box">{escape(labels["box"])}</label>'
        f'<input id="{cell_id}-box" class="lessons-live-input" type="text" '
        f'value="{escape(config["initial"]["text"], quote=True)}" autocomplete="off" '
        'autocapitalize="off" autocorrect="off" spellcheck="false" '
        f'aria-describedby="{cell_id}-message {cell_id}-formats">'
        f'<div class="lessons-live-suggestions" role="group" aria-labelledby="{cell_id}-out">'
        f'<span id="{cell_id}-out">{escape(labels["suggestions"])}</span>{suggestions}</div>'
        f'<p class="lessons-live-message" id="{cell_id}-message" role="status"></p>'
        '<div class="lessons-live-answer" aria-live="polite" aria-atomic="true">'
        f'<p>{escape(labels["answer"])}: <b class="lessons-live-answer-text"></b></p>'
        '<div class="lessons-live-chars"></div></div>'
        f'<p class="lessons-live-note">{escape(labels["probabilities"])}</p>'
        '<figure class="lessons-live-figure lessons-live-heatmap">'
        f'<div class="lessons-live-svg" role="group" aria-label="{escape(labels["heatmap_name"])}">'
        "</div>"
        f"<figcaption>{escape(labels['heatmap'])}</figcaption></figure>"
        '<p class="lessons-live-note lessons-live-origin"></p>'
    )
    return _cell("date", cell_id, config, body)


def digit_live_html(config: Mapping[str, Any]) -> str:
    """Self-contained HTML + JS: an 8x8 drawing grid the digit ViT answers in the page.

    ``config``: see :func:`digit_config`. The grid's 64 cells are buttons (one in the tab
    order at a time; the arrow keys move between them).
    """
    config = digit_config(config)
    labels = config["labels"]
    cell_id = _cell_id("digit", config)
    escape = html.escape
    cells = "".join(
        f'<button type="button" class="lessons-live-cell" data-index="{index}" '
        f'tabindex="{0 if index == 0 else -1}" aria-pressed="false" '
        f'aria-label="{escape(_fill(labels["cell"], row=index // 8 + 1, column=index % 8 + 1))}">'
        "</button>"
        for index in range(IMAGE_SIZE * IMAGE_SIZE)
    )
    body = (
        '<div class="lessons-live-toolbar">'
        f'<button type="button" class="lessons-live-load">{escape(labels["load"])}</button>'
        f'<button type="button" class="lessons-live-clear">{escape(labels["clear"])}</button>'
        '<span class="lessons-live-digit-name"></span></div>'
        f'<p class="lessons-live-note" id="{cell_id}-help">{escape(labels["help"])}</p>'
        '<div class="lessons-live-panels">'
        f'<div class="lessons-live-grid" role="group" aria-label="{escape(labels["grid"])}" '
        f'aria-describedby="{cell_id}-help">{cells}</div>'
        '<figure class="lessons-live-figure lessons-live-rollout">'
        '<div class="lessons-live-svg"></div>'
        f"<figcaption>{escape(labels['rollout'])}</figcaption></figure>"
        '<div class="lessons-live-bars">'
        f'<p class="lessons-live-reads" aria-live="polite" aria-atomic="true"></p>'
        f'<div role="list" aria-label="{escape(labels["bars"])}" class="lessons-live-bar-list">'
        "</div></div></div>"
        f'<p class="lessons-live-message" id="{cell_id}-message" role="status"></p>'
        '<p class="lessons-live-note lessons-live-origin"></p>'
    )
    return _cell("digit", cell_id, config, body)


def live_messages() -> list[str]:
    """Every English label of the live cells, for the translation catalog (each once)."""
    return list(dict.fromkeys([*DATE_LABELS.values(), *DIGIT_LABELS.values()]))


# One live cell as this module writes it: its kind and its configuration's JSON.
_LIVE_CELL = re.compile(
    r'<div class="lessons-live lessons-live-(date|digit)" .*?'
    r'<script type="application/json" class="lessons-live-config">(.*?)</script>'
    r"<script>.*?</script></div>",
    re.DOTALL,
)


def relabelled_live_html(text: str, translate: Callable[[str], str]) -> str:
    """``text`` (a page or an output's HTML) with every live cell's labels passed through
    ``translate``: each cell is written again from its own configuration, the same but for
    the words. Other HTML is left as it is. (For an edition in another language made from
    the English run's outputs, such as the book's Chinese pages.)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not callable(translate):
        raise TypeError(f"translate must be callable (str -> str), got {type(translate).__name__}")

    def relabel(match: re.Match[str]) -> str:
        config = json.loads(match.group(2))
        config["labels"] = {key: translate(label) for key, label in config["labels"].items()}
        return (date_live_html if match.group(1) == "date" else digit_live_html)(config)

    return _LIVE_CELL.sub(relabel, text)
