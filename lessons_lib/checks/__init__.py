"""Exercise checkers, one module per chapter, on the mechanism in ``core.py``.

Each checker runs the reader's function on random inputs and, when the answer
is wrong, names the mistake (softmax over the wrong axis, no 1/sqrt(d_k), ...).
"""

from lessons_lib.checks.core import CheckResult, Mistake
from lessons_lib.checks.cross_attention import check_multi_head, check_split_heads
from lessons_lib.checks.masking import check_causal_mask, check_masked_weights
from lessons_lib.checks.qkv import check_attention_head, check_attention_weights
from lessons_lib.checks.softmax import check_softmax, check_temperature_softmax

__all__ = [
    "CheckResult",
    "Mistake",
    "check_attention_head",
    "check_attention_weights",
    "check_causal_mask",
    "check_masked_weights",
    "check_multi_head",
    "check_softmax",
    "check_split_heads",
    "check_temperature_softmax",
]
