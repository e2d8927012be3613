"""Interactive explorers, one module per chapter, on one shared mechanism.

``core.py`` holds the live/static mechanism (:class:`Explorer`); each chapter
module builds its figure, its controls and its ``update`` function on it.
"""

from lessons_lib.widgets.core import Explorer, static_forms_enabled
from lessons_lib.widgets.qkv import qkv_explorer, query_weights

__all__ = ["Explorer", "qkv_explorer", "query_weights", "static_forms_enabled"]
