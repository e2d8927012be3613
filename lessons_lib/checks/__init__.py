"""Exercise checkers: one module per chapter, named by the chapter, on one mechanism.

Each checker runs the reader's function on several inputs (the chapter's own,
and other sizes chosen so that the usual slips show), compares it with the
package's reference, and, when it is wrong, names the mistake (softmax over the
wrong axis, no 1/sqrt(d_k), ...). Every checker returns a :class:`CheckResult`
and never raises, stops a function that does not return within
:data:`~lessons_lib.checks.core.TIME_LIMIT` seconds, and leaves the global random
generators as it found them; the mechanism is :class:`~lessons_lib.checks.core.Exercise`
(reading answers: ``checks.answers``; running the reader's code: ``checks.running``).

``EXERCISES`` is the one registry: checker name -> its :class:`Exercise`, which
holds the right answer (``solution``) and the known mistakes (``mistakes``).

>>> import torch
>>> from lessons_lib.checks import check_causal_mask
>>> check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
✅ Correct: query i sees keys 0..i and nothing later, for every n.
"""

from lessons_lib.checks import (
    add_norm,
    autoregressive_decoding,
    cross_attention,
    gpt,
    masking,
    position_codes,
    qkv,
    softmax,
    transformer,
    vit,
    vit_patching,
    vit_scale,
)
from lessons_lib.checks.add_norm import check_add_norm, check_layer_norm
from lessons_lib.checks.autoregressive_decoding import (
    check_greedy_decode,
    check_next_token_probabilities,
)
from lessons_lib.checks.core import Case, CheckResult, Exercise, Mistake
from lessons_lib.checks.cross_attention import check_multi_head, check_split_heads
from lessons_lib.checks.gpt import check_bpe_merge, check_gpt_causal_mask, check_top_p
from lessons_lib.checks.masking import check_causal_mask, check_masked_weights
from lessons_lib.checks.position_codes import (
    check_codes_2d,
    check_cosine_similarity,
    check_rotary,
)
from lessons_lib.checks.qkv import check_attention_head, check_attention_weights
from lessons_lib.checks.softmax import check_sharpen, check_softmax, check_temperature_softmax
from lessons_lib.checks.transformer import (
    check_encoder_layer,
    check_parameter_count,
    check_teacher_forcing_loss,
)
from lessons_lib.checks.vit import check_input_sequence, check_read_out, check_rollout
from lessons_lib.checks.vit_patching import check_conv_embedding, check_patchify
from lessons_lib.checks.vit_scale import check_stretch_codes

EXERCISES: dict[str, Exercise] = {
    exercise.name: exercise
    for exercise in (
        qkv.ATTENTION_WEIGHTS,
        qkv.ATTENTION_HEAD,
        softmax.SOFTMAX,
        softmax.TEMPERATURE_SOFTMAX,
        softmax.SHARPEN,
        masking.CAUSAL_MASK,
        masking.MASKED_WEIGHTS,
        cross_attention.SPLIT_HEADS,
        cross_attention.MULTI_HEAD,
        add_norm.LAYER_NORM,
        add_norm.ADD_NORM,
        autoregressive_decoding.GREEDY_DECODE,
        autoregressive_decoding.NEXT_TOKEN_PROBABILITIES,
        gpt.GPT_CAUSAL_MASK,
        gpt.TOP_P,
        gpt.BPE_MERGE,
        transformer.ENCODER_LAYER,
        transformer.PARAMETER_COUNT,
        transformer.TEACHER_FORCING_LOSS,
        vit_patching.PATCHIFY,
        vit_patching.CONV_EMBEDDING,
        position_codes.CODES_2D,
        position_codes.COSINE_SIMILARITY,
        position_codes.ROTARY,
        vit.INPUT_SEQUENCE,
        vit.READ_OUT,
        vit.ROLLOUT,
        vit_scale.STRETCH_CODES,
    )
}
"""Every checker by name: its inputs, right answer and known mistakes."""

__all__ = [
    "EXERCISES",
    "Case",
    "CheckResult",
    "Exercise",
    "Mistake",
    "check_add_norm",
    "check_attention_head",
    "check_attention_weights",
    "check_bpe_merge",
    "check_causal_mask",
    "check_codes_2d",
    "check_conv_embedding",
    "check_cosine_similarity",
    "check_encoder_layer",
    "check_gpt_causal_mask",
    "check_greedy_decode",
    "check_input_sequence",
    "check_layer_norm",
    "check_masked_weights",
    "check_multi_head",
    "check_next_token_probabilities",
    "check_parameter_count",
    "check_patchify",
    "check_read_out",
    "check_rollout",
    "check_rotary",
    "check_sharpen",
    "check_softmax",
    "check_split_heads",
    "check_stretch_codes",
    "check_teacher_forcing_loss",
    "check_temperature_softmax",
    "check_top_p",
]
