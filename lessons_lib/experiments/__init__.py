"""Experiments: the runs behind the chapters' figures and tables, one module per chapter.

The rule of the layout: a concept lives at the package's top level (``lessons_lib.attention``,
``lessons_lib.intervals``, ...); a chapter's use of them lives in a module named like its
notebook, here as in ``widgets/``, ``checks/`` and ``tests/claims/``:

- ``softmax`` (02): why attention divides by sqrt(d_k);
- ``cross_attention`` (04): a GRU against self-attention, timed;
- ``add_norm`` (05): gradient norms down a deep stack, the norm's place and warm-up;
- ``transformer`` (06): shapes through a model (used by 10 too), where cross-attention reads;
- ``autoregressive_decoding`` (07): beam sizes compared on dates, sequences scored by teacher
  forcing;
- ``gpt`` (the coming chapter "From the Transformer to GPT"): characters against BPE, the live
  recipe, samples;
- ``position_codes`` (10): the ViT with each kind of position code;
- ``vit_scale`` (12, an appendix): codes stretched to a larger image, the ViT against a small
  CNN as the training set grows.

Nothing is re-exported here: import from the chapter's module,
``from lessons_lib.experiments.add_norm import warmup_experiment``.

Layer: experiments (imports training, metrics and everything below, and tqdm).
"""
