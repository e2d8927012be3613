"""What the book's build adds to each kernel that executes a chapter: an IPython extension.

While the book is built, every figure that is a single row of panels also carries a copy
with its panels stacked, which the rendered page shows on phones
(:func:`lessons_lib.plotting.show_narrow_figures_in_book`). The build asks for it
explicitly: its kernels start with this extension loaded, named in the IPython profile
``tools/ipython_build_profile/profile_default/ipython_kernel_config.py``
(``c.InteractiveShellApp.extensions``), which the build selects by setting
``IPYTHONDIR=tools/ipython_build_profile``. Importing a ``lessons_lib`` module changes
nothing in a kernel, so Jupyter and Colab never see the stacked copies.

By hand, in one kernel::

    %load_ext lessons_lib.book_kernel

Layer: presentation (imports IPython and matplotlib when loaded).
"""

from __future__ import annotations

from typing import Any

from lessons_lib.plotting import NARROW_FIGURE_MIME, show_narrow_figures_in_book


def _formatters(ipython: Any) -> dict:
    """The shell's display formatters, by mimetype; a TypeError for anything else."""
    formatters = getattr(getattr(ipython, "display_formatter", None), "formatters", None)
    if not isinstance(formatters, dict):
        raise TypeError(
            "ipython must be an IPython shell (with a display_formatter), "
            f"got {type(ipython).__name__}"
        )
    return formatters


def load_ipython_extension(ipython: Any) -> None:
    """Give every single-row figure displayed in this shell its stacked copy.

    IPython calls this on ``%load_ext lessons_lib.book_kernel`` or at start-up, for the
    extensions a profile names.

    >>> from types import SimpleNamespace
    >>> from IPython.core.formatters import DisplayFormatter
    >>> shell = SimpleNamespace(display_formatter=DisplayFormatter())  # what it touches
    >>> load_ipython_extension(shell)
    >>> NARROW_FIGURE_MIME in shell.display_formatter.formatters
    True
    >>> unload_ipython_extension(shell)
    >>> NARROW_FIGURE_MIME in shell.display_formatter.formatters
    False
    """
    _formatters(ipython)  # refuse anything that is not a shell, None included
    show_narrow_figures_in_book(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop adding stacked copies in this shell (``%unload_ext lessons_lib.book_kernel``)."""
    _formatters(ipython).pop(NARROW_FIGURE_MIME, None)
