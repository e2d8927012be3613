"""Exercise checkers, one module per chapter, on the mechanism in ``core.py``.

Each checker runs the reader's function on random inputs and, when the answer
is wrong, names the mistake (softmax over the wrong axis, no 1/sqrt(d_k), ...).
"""

from lessons_lib.checks.add_norm import check_add_norm, check_layer_norm
from lessons_lib.checks.core import CheckResult, Mistake
from lessons_lib.checks.cross_attention import check_multi_head, check_split_heads
from lessons_lib.checks.decoding import check_greedy_decode, check_next_token_probabilities
from lessons_lib.checks.masking import check_causal_mask, check_masked_weights
from lessons_lib.checks.patching import check_conv_embedding, check_patchify
from lessons_lib.checks.positions import check_codes_2d, check_cosine_similarity
from lessons_lib.checks.qkv import check_attention_head, check_attention_weights
from lessons_lib.checks.softmax import check_softmax, check_temperature_softmax
from lessons_lib.checks.transformer import check_encoder_layer, check_parameter_count
from lessons_lib.checks.vit import check_input_sequence, check_read_out

__all__ = [
    "CheckResult",
    "Mistake",
    "check_add_norm",
    "check_attention_head",
    "check_attention_weights",
    "check_causal_mask",
    "check_codes_2d",
    "check_conv_embedding",
    "check_cosine_similarity",
    "check_encoder_layer",
    "check_greedy_decode",
    "check_input_sequence",
    "check_layer_norm",
    "check_masked_weights",
    "check_multi_head",
    "check_next_token_probabilities",
    "check_parameter_count",
    "check_patchify",
    "check_read_out",
    "check_softmax",
    "check_split_heads",
    "check_temperature_softmax",
]
