"""Interactive explorers, one module per chapter, on one shared mechanism.

``core.py`` holds the live/static mechanism (:class:`Explorer`); each chapter
module builds its figure, its controls and its ``update`` function on it.
"""

from lessons_lib.widgets.add_norm import add_norm_explorer
from lessons_lib.widgets.core import Explorer, static_forms_enabled
from lessons_lib.widgets.cross_attention import cross_attention_explorer
from lessons_lib.widgets.decoding import decoding_explorer
from lessons_lib.widgets.masking import masking_explorer
from lessons_lib.widgets.patching import patching_explorer
from lessons_lib.widgets.positions import position_explorer
from lessons_lib.widgets.qkv import qkv_explorer, query_weights
from lessons_lib.widgets.softmax import scaling_explorer, softmax_explorer

__all__ = [
    "Explorer",
    "add_norm_explorer",
    "cross_attention_explorer",
    "decoding_explorer",
    "masking_explorer",
    "patching_explorer",
    "position_explorer",
    "qkv_explorer",
    "query_weights",
    "scaling_explorer",
    "softmax_explorer",
    "static_forms_enabled",
]
