"""The "1-D vs 2-D position codes" explorer and figure: cosine similarities of position codes.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from lessons_lib.positions import PositionCodes2D, sinusoidal_positions
from lessons_lib.widgets.position_codes import (
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


def test_static_form_holds_a_distinct_frame_for_every_setting(codes_by_kind):
    html = position_explorer(codes_by_kind, 3, 4).static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 12 * 2
    assert len(set(data["frames"].values())) == 24
    assert len(html) < 1_000_000
