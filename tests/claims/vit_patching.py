"""Claims of chapter 09 (ViT patching) about its glued numbers."""

from tests.claims import Claim

NOTEBOOK = "09_vit_patching"

CLAIMS = [
    Claim(
        "That is a 14 by 14 grid: 196 patches, each holding 3 · 16 · 16 = 768 numbers.",
        lambda g: g["photo_grid"] == 14 and g["photo_tokens"] == 196 and g["photo_values"] == 768,
    ),
    Claim(
        "At 384 pixels ViT-B/16 reads 576 patches ... about nine times as many scores as the "
        "196 patches at 224 pixels would give.",
        lambda g: g["b16_384"] == 576 and 8 < (g["b16_384"] / g["photo_tokens"]) ** 2 < 9,
    ),
    Claim(
        "ViT-B/32 at 224 pixels reads only 49 patches, the cheapest of the four; ViT-H/14 reads "
        "256.",
        lambda g: g["b32_224"] == 49 < g["photo_tokens"] < g["h14_224"] == 256,
    ),
    Claim(
        "14 does not divide 384: a strided convolution would silently drop the last 6 rows and "
        "columns.",
        lambda g: g["h14_384_left"] == 6,
    ),
    Claim(
        "The two ways agree to float32 rounding.",
        lambda g: g["conv_gap"] < 1e-6,
    ),
    Claim("1,797 grey images of 8 x 8 pixels.", lambda g: g["n_digits"] == 1797),
]
