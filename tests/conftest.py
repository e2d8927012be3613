"""Shared test settings, and the built site that the ``book`` tests read."""

import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")
# Torch calls are slow next to hypothesis' default deadline; no timing is asserted anywhere.
settings.register_profile("book", deadline=None, max_examples=60)
settings.load_profile("book")
os.environ.pop("LESSONS_STATIC_WIDGETS", None)  # tests opt in to the static form explicitly


SITE = Path(__file__).resolve().parent.parent / "_build" / "html"


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The built book (_build/html): a skip without it, or a failure when REQUIRE_BOOK is set."""
    if not (SITE / "index.html").is_file():
        if os.environ.get("REQUIRE_BOOK"):
            pytest.fail("_build/html is missing: the book build failed or did not run")
        pytest.skip("the book is not built; run `make book` first")
    return SITE


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models and inputs: on a busy machine, torch's extra threads only cost time.
    A module asks for it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch  # here: conftest stays light for the tests that never load torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
