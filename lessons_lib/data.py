"""Toy data for the book: generated here or shipped inside a package, never downloaded.

Sequence tasks (for the Transformer chapters) come first, image sets (for the
ViT chapters) second.
"""

from __future__ import annotations


# --- sequence tasks -------------------------------------------------------------------


# --- image sets -----------------------------------------------------------------------
