"""The article header's sidebar buttons, working: the theme's hidden copies lose their class.

pydata-sphinx-theme 0.17 writes its own "Site navigation" and "On this page" buttons into its
top header, which sphinx-book-theme never shows, with the same classes (``primary-toggle``,
``secondary-toggle``) as sphinx-book-theme's visible buttons in the article header. Both
themes' scripts bind only the first element with each class (``document.querySelector``), so
the visible buttons did nothing: no navigation drawer on a phone, no hiding of the sidebar on
a wide screen (pydata-sphinx-theme issue 2451, sphinx-book-theme issue 988). This page step
takes the class off the two hidden copies, so that the scripts bind the visible buttons.
tests/test_book_extension.py fails once the theme's script binds every such button, so that
this step can go.
"""

from __future__ import annotations

# The hidden copies' opening tags, exactly as pydata-sphinx-theme 0.17's sections/header.html
# writes them; the visible buttons' class lists start differently ("sidebar-toggle ...").
HIDDEN_TOGGLES = {
    '<button class="pst-navbar-icon sidebar-toggle primary-toggle"': (
        '<button class="pst-navbar-icon sidebar-toggle"'
    ),
    '<button class="pst-navbar-icon sidebar-toggle secondary-toggle"': (
        '<button class="pst-navbar-icon sidebar-toggle"'
    ),
}


def visible_sidebar_toggles(text: str) -> str:
    """The page without the ``primary-toggle``/``secondary-toggle`` class on hidden copies."""
    for hidden, plain in HIDDEN_TOGGLES.items():
        text = text.replace(hidden, plain)
    return text
