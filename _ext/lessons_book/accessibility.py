"""The bibliography's entries as list items, which their list needs.

docutils marks the bibliography ``role="list"`` around ``role="doc-biblioentry"`` entries,
which axe (and Lighthouse) reject: a list needs list items. Each entry becomes one.
"""

from __future__ import annotations

CITATION_ROLE = 'role="doc-biblioentry"'


def list_item_citations(text: str) -> str:
    """Each bibliography entry of a page takes the list-item role."""
    return text.replace(CITATION_ROLE, 'role="listitem"')
