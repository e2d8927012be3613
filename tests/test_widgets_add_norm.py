"""The chapter-5 explorer: its computation, the live widget, and the static form.

Marked ``widgets``: `make test` also runs these under ipywidgets 7.7.1 (Colab's version).
"""

import json
import re

import numpy as np
import pytest

from lessons_lib.residual import gradient_norms_per_layer
from lessons_lib.widgets.add_norm import DEPTHS, add_norm_explorer, stack_gradients
from lessons_lib.widgets.core import WIDGET_VIEW_MIMETYPE

pytestmark = pytest.mark.widgets


def test_stack_gradients_gives_both_settings():
    chosen, other = stack_gradients(8, residual=False, norm=False)
    assert np.allclose(chosen, gradient_norms_per_layer(8, residual=False).numpy())
    assert np.allclose(other, gradient_norms_per_layer(8, residual=True).numpy())
    assert chosen[0] < other[0]


def test_live_widget_redraws_when_a_control_moves():
    explorer = add_norm_explorer()
    first = bytes(explorer.image.value)  # memoryview under ipywidgets 8
    assert first.startswith(b"\x89PNG")
    explorer.controls["residual"].value = True
    after_residual = bytes(explorer.image.value)
    assert after_residual != first
    explorer.controls["depth"].value = 4
    after_depth = bytes(explorer.image.value)
    assert after_depth not in (first, after_residual)
    explorer.controls["norm"].value = True
    assert bytes(explorer.image.value) not in (first, after_residual, after_depth)


def test_display_bundle_has_static_html_only_when_building(monkeypatch):
    explorer = add_norm_explorer()
    assert "text/html" not in explorer._repr_mimebundle_()
    monkeypatch.setenv("LESSONS_STATIC_WIDGETS", "1")
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_VIEW_MIMETYPE in bundle and "text/html" in bundle


def test_static_form_holds_a_distinct_frame_for_every_setting():
    html = add_norm_explorer().static_html()
    data = json.loads(re.search(r'class="lessons-explorer-data">(.*?)</script>', html).group(1))
    n_settings = len(DEPTHS) * 2 * 2
    assert len(data["frames"]) == n_settings
    assert len(set(data["frames"].values())) == n_settings
    assert html.count('type="range"') == 1 and html.count('type="checkbox"') == 2
    assert "http" not in html and len(html) < 700_000
