"""Shared test settings."""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")
# Torch calls are slow next to hypothesis' default deadline; no timing is asserted anywhere.
settings.register_profile("book", deadline=None, max_examples=60)
settings.load_profile("book")
os.environ.pop("LESSONS_STATIC_WIDGETS", None)  # tests opt in to the static form explicitly
