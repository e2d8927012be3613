"""The chapter-9 explorer and figure: cosine similarities of position codes.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.positions import PositionCodes2D, sinusoidal_positions
from lessons_lib.widgets.core import WIDGET_VIEW_MIMETYPE
from lessons_lib.widgets.positions import (
    cosine_similarity_map,
    patch_similarity,
    plot_similarity_grid,
    position_explorer,
)

pytestmark = pytest.mark.widgets


@pytest.fixture
def codes_by_kind():
    torch.manual_seed(0)
    return {
        "2-D": PositionCodes2D(3, 4, 8)().detach(),
        "sinusoidal": sinusoidal_positions(12, 8),
    }


@given(n=st.integers(1, 8), d=st.integers(1, 8), seed=st.integers(0, 99))
def test_cosine_similarity_matches_torch(n, d, seed):
    codes = torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + 0.1
    expected = torch.nn.functional.cosine_similarity(codes[:, None], codes[None, :], dim=-1)
    assert torch.allclose(cosine_similarity_map(codes), expected, atol=1e-5)


def test_patch_similarity_is_one_row_laid_out_as_the_grid(codes_by_kind):
    codes = codes_by_kind["2-D"]
    full = cosine_similarity_map(codes)
    for index in range(12):
        grid = patch_similarity(codes, index, 3, 4)
        assert grid.shape == (3, 4)
        assert torch.allclose(grid.flatten(), full[index])
        assert grid[index // 4, index % 4] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"patch_index must lie in 0..11, got 12"):
        patch_similarity(codes, 12, 3, 4)
    with pytest.raises(ValueError, match=r"a 4x4 grid has 16 patches, got 12 codes"):
        patch_similarity(codes, 0, 4, 4)
    with pytest.raises(ValueError, match=r"codes must be \(n_positions, d\)"):
        cosine_similarity_map(codes[0])


def test_similarity_grid_has_one_tile_per_patch(codes_by_kind):
    figure = plot_similarity_grid(codes_by_kind["2-D"], 3, 4, title="t")
    tiles = [ax for ax in figure.axes if ax.images]
    assert len(tiles) == 12
    assert tiles[5].images[0].get_array().shape == (3, 4)


def test_live_widget_redraws_when_a_control_moves(codes_by_kind):
    explorer = position_explorer(codes_by_kind, 3, 4)
    first = bytes(explorer.image.value)
    assert first.startswith(b"\x89PNG")
    explorer.controls["patch_index"].value = 5
    after_patch = bytes(explorer.image.value)
    assert after_patch != first
    explorer.controls["kind"].value = "sinusoidal"
    assert bytes(explorer.image.value) not in (first, after_patch)


def test_static_form(codes_by_kind, monkeypatch):
    explorer = position_explorer(codes_by_kind, 3, 4)
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle
    data = json.loads(
        re.search(r'class="lessons-explorer-data">(.*?)</script>', bundle["text/html"]).group(1)
    )
    assert len(data["frames"]) == 12 * 2
    assert len(set(data["frames"].values())) == 24
    assert len(bundle["text/html"]) < 1_000_000
