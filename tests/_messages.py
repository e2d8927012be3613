"""A pattern for `pytest.raises(match=...)` that holds an error message to every word."""

from __future__ import annotations

import re


def refused(message: str) -> str:
    """The whole message, matched from its first word to its last."""
    return "^" + re.escape(message) + "$"
