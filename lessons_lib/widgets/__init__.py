"""Interactive explorers: one module per chapter, on one shared mechanism.

Presentation layer. The mechanism, in three modules read top to bottom:

- ``rendering``: a figure to PNG bytes; :class:`FrameDrawer` draws again only
  the artists an update changed (matplotlib's blitting);
- ``explorer``: :class:`Explorer`, the live ipywidgets widget;
- ``static``: the static form for the rendered book, every frame precomputed,
  played by ``static_player.js``.

Each chapter module (named like the chapter's notebook, without its number)
builds a figure, its controls and an ``update`` function that returns the
artists it changed. :data:`EXPLORERS` lists every chapter's explorer by name.

Layer: presentation (matplotlib, ipywidgets).

    >>> sorted(EXPLORERS)[0]
    'add_norm_explorer'
"""

from collections.abc import Callable

from lessons_lib.widgets.add_norm import add_norm_explorer
from lessons_lib.widgets.autoregressive_decoding import beam_explorer, decoding_explorer
from lessons_lib.widgets.cross_attention import cross_attention_explorer
from lessons_lib.widgets.explorer import WIDGET_VIEW_MIMETYPE, Explorer
from lessons_lib.widgets.gpt import next_token_explorer
from lessons_lib.widgets.masking import masking_explorer
from lessons_lib.widgets.position_codes import position_explorer
from lessons_lib.widgets.qkv import qkv_explorer, query_weights
from lessons_lib.widgets.rendering import FrameDrawer
from lessons_lib.widgets.softmax import scaling_explorer, softmax_explorer
from lessons_lib.widgets.static import control_options, static_forms_enabled
from lessons_lib.widgets.transformer import (
    date_attention_explorer,
    transformer_attention_explorer,
)
from lessons_lib.widgets.vit import vit_attention_explorer
from lessons_lib.widgets.vit_patching import patching_explorer
from lessons_lib.widgets.vit_scale import stretched_codes_explorer, vit_cnn_explorer

# Every chapter's explorer, by its (unique) name, in chapter order.
EXPLORERS: dict[str, Callable[..., Explorer]] = {
    explorer.__name__: explorer
    for explorer in (
        qkv_explorer,
        softmax_explorer,
        scaling_explorer,
        masking_explorer,
        cross_attention_explorer,
        add_norm_explorer,
        transformer_attention_explorer,
        date_attention_explorer,
        decoding_explorer,
        beam_explorer,
        next_token_explorer,
        patching_explorer,
        position_explorer,
        vit_attention_explorer,
        stretched_codes_explorer,
        vit_cnn_explorer,
    )
}

__all__ = [
    "EXPLORERS",
    "WIDGET_VIEW_MIMETYPE",
    "Explorer",
    "FrameDrawer",
    "add_norm_explorer",
    "beam_explorer",
    "control_options",
    "cross_attention_explorer",
    "date_attention_explorer",
    "decoding_explorer",
    "masking_explorer",
    "next_token_explorer",
    "patching_explorer",
    "position_explorer",
    "qkv_explorer",
    "query_weights",
    "scaling_explorer",
    "softmax_explorer",
    "static_forms_enabled",
    "stretched_codes_explorer",
    "transformer_attention_explorer",
    "vit_attention_explorer",
    "vit_cnn_explorer",
]
