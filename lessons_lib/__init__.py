"""lessons_lib: the tested code behind the book *Attention, Hands-On*.

One module per concept, mirroring the chapters:

============================  ===============================================
chapter                       module
============================  ===============================================
01 Queries, keys and values   ``attention`` (+ ``positions`` for the input)
02 Softmax                    ``softmax``
03 Masking                    ``masking``
04 Cross-attention, heads     ``attention.MultiHeadAttention``
05 Add & norm                 ``residual``
06 The whole Transformer      ``transformer``
07 Autoregressive decoding    ``decoding`` (+ ``attention.KVCache``)
08 Transformer to GPT         ``gpt``, ``corpus``
09 ViT patching               ``patching``
10 1-D vs 2-D position codes  ``positions``
11 The whole ViT              ``vit``
12 The ViT at other scales    ``cnn`` (the CNN it is set against)
============================  ===============================================

``set_language("zh_CN")`` (``language``) gives the checkers' and explorers' messages in
Chinese, as the Chinese edition's notebooks do.

The modules form layers; each imports only from the layers below it
(``make lint`` checks this with import-linter, see ``.importlinter``):

==============  ==========================================================
layer           modules
==============  ==========================================================
presentation    ``plotting``, ``widgets``, ``checks`` (matplotlib, ipywidgets)
experiments     ``experiments``: each chapter's runs (tqdm)
training        ``training``: the loop and the recipes (tqdm)
metrics         ``metrics``: accuracies, ``parameter_count``
data            ``data``: toy tasks and image sets (scikit-learn's digits)
decoding        ``decoding``: greedy and sampled decoding
models          ``transformer``, ``vit``
modules         ``attention``, ``residual``, ``positions``, ``patching``
ops             ``softmax``, ``masking``
==============  ==========================================================

The models and everything below them import torch and ``lessons_lib`` only,
so a reader can copy a model module into their own project. Plotting,
widgets and checks are imported on first use, so ``import lessons_lib``
stays light.
"""

from lessons_lib.attention import MultiHeadAttention, attention_scores, scaled_dot_product_attention
from lessons_lib.decoding import greedy_decode, sample_decode
from lessons_lib.language import set_language
from lessons_lib.masking import apply_mask, causal_mask, padding_mask
from lessons_lib.patching import PatchEmbedding, patchify, unpatchify
from lessons_lib.positions import PositionCodes1D, PositionCodes2D, sinusoidal_positions
from lessons_lib.residual import AddNorm, FeedForward, LayerNorm, layer_norm
from lessons_lib.softmax import softmax
from lessons_lib.transformer import DecoderLayer, EncoderLayer, Transformer
from lessons_lib.vit import ViT

__all__ = [
    "AddNorm",
    "DecoderLayer",
    "EncoderLayer",
    "FeedForward",
    "LayerNorm",
    "MultiHeadAttention",
    "PatchEmbedding",
    "PositionCodes1D",
    "PositionCodes2D",
    "Transformer",
    "ViT",
    "apply_mask",
    "attention_scores",
    "causal_mask",
    "greedy_decode",
    "layer_norm",
    "padding_mask",
    "patchify",
    "sample_decode",
    "scaled_dot_product_attention",
    "set_language",
    "sinusoidal_positions",
    "softmax",
    "unpatchify",
]
