"""Benchmark of chapter 04's comparison: one GRU layer against one self-attention layer.

Times both layers of the same width over sequence lengths 16 to 1024 with
:func:`lessons_lib.experiments.cross_attention.time_gru_and_attention` (the chapter runs a
shorter version of the same sweep). Prints one line per width and length, then
ONE JSON object on its last line:

    rnn_lengths                  the sequence lengths
    rnn_d<d>_gru_ms              median forward time of nn.GRU(d, d), ms, per length
    rnn_d<d>_attention_ms        median forward time of MultiHeadAttention(d, 1), ms, per length
    rnn_batch, rnn_repeats       sequences per forward pass, timed runs per median

Nothing is asserted: `make bench` reports, it does not fail.

    python bench/bench_rnn.py [--runs 3] [--threads N] [--device cpu]
"""

from __future__ import annotations

import argparse
import json

import torch

from lessons_lib.experiments.cross_attention import time_gru_and_attention

LENGTHS = [16, 32, 64, 128, 256, 512, 1024]
WIDTHS = (64, 256)
BATCH = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="scales the timed runs (3 per run)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where there is one")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = max(5, 3 * args.runs)  # a forward pass takes milliseconds: time it many times
    result: dict = {"rnn_lengths": LENGTHS, "rnn_batch": BATCH, "rnn_repeats": repeats}
    for d_model in WIDTHS:
        timings = time_gru_and_attention(
            LENGTHS, d_model, BATCH, repeats, device=args.device, progress=False
        )
        for n, gru_ms, attention_ms in zip(
            LENGTHS, timings["gru_ms"], timings["attention_ms"], strict=True
        ):
            print(
                f"d={d_model:4} n={n:5}: GRU {gru_ms:9.3f} ms, self-attention "
                f"{attention_ms:9.3f} ms, ratio {attention_ms / gru_ms:6.2f}",
                flush=True,
            )
        result[f"rnn_d{d_model}_gru_ms"] = timings["gru_ms"]
        result[f"rnn_d{d_model}_attention_ms"] = timings["attention_ms"]
    result["rnn_device"] = args.device
    result["rnn_torch_threads"] = torch.get_num_threads()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
