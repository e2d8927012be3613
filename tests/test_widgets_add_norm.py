"""The "Add & norm" explorer: its computation and its static form.

What every explorer shares (live redraws, fast frames, the static form) is
tested once for all in ``test_widgets.py``.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import numpy as np
import pytest

from lessons_lib.experiments.add_norm import gradient_norms_per_layer
from lessons_lib.widgets.add_norm import DEPTHS, add_norm_explorer, stack_gradients

pytestmark = pytest.mark.widgets


def test_stack_gradients_gives_both_settings():
    chosen, other = stack_gradients(8, residual=False, norm=False)
    assert np.allclose(chosen, gradient_norms_per_layer(8, residual=False).numpy())
    assert np.allclose(other, gradient_norms_per_layer(8, residual=True).numpy())
    assert chosen[0] < other[0]


def test_static_form_holds_a_distinct_frame_for_every_setting():
    html = add_norm_explorer().static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    n_settings = len(DEPTHS) * 2 * 2
    assert len(data["frames"]) == n_settings
    assert len(set(data["frames"].values())) == n_settings
    assert html.count('type="range"') == 1 and html.count('type="checkbox"') == 2
    assert "http" not in html and len(html) < 700_000
