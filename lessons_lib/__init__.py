"""lessons_lib: the tested code behind the book *Attention, Hands-On*.

One module per concept, mirroring the chapters:

============================  ===========================================
chapter                       module
============================  ===========================================
01 Queries, keys and values   ``attention`` (+ ``positions`` for the input)
02 Softmax                    ``softmax``
03 Masking                    ``masking``
04 Cross-attention, heads     ``attention.MultiHeadAttention``
05 Add & norm                 ``residual``
06 Autoregressive decoding    ``decoding``, ``train``
07 The whole Transformer      ``transformer``
08 ViT patching               ``patching``
09 1-D vs 2-D position codes  ``positions``
10 The whole ViT              ``vit``, ``data``
============================  ===========================================

Shared by all chapters: ``plotting`` (figures), ``widgets`` (explorers that
work live in Jupyter/Colab and without a kernel in the rendered book) and
``checks`` (exercise checkers that name the mistake).

The math modules import torch only; plotting and widgets are imported on
first use, so ``import lessons_lib`` stays light.
"""

from lessons_lib.attention import MultiHeadAttention, attention_scores, scaled_dot_product_attention
from lessons_lib.masking import apply_mask, causal_mask, padding_mask
from lessons_lib.positions import sinusoidal_positions
from lessons_lib.softmax import softmax

__all__ = [
    "MultiHeadAttention",
    "apply_mask",
    "attention_scores",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
    "softmax",
]
