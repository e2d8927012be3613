"""Exercise checkers, one module per chapter, on the mechanism in ``core.py``.

Each checker runs the reader's function on random inputs and, when the answer
is wrong, names the mistake (softmax over the wrong axis, no 1/sqrt(d_k), ...).
"""

from lessons_lib.checks.core import CheckResult, Mistake
from lessons_lib.checks.qkv import check_attention_head, check_attention_weights

__all__ = ["CheckResult", "Mistake", "check_attention_head", "check_attention_weights"]
