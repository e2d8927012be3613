"""Running the reader's function: within a time limit, a crash turned into a message, and
the global random generators kept.

:func:`call_within` stops a function that does not return in time: with a
SIGALRM timer in the main thread (the previous handler and timer restored),
else in a daemon thread that is waited for. :func:`call_reader` turns any
exception of the reader's code, SystemExit included, into a message naming
its line; only KeyboardInterrupt goes through. :func:`global_state_kept`
restores torch's, numpy's and ``random``'s generators afterwards.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import signal
import sysconfig
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from lessons_lib.checks.answers import AnswerError

T = TypeVar("T")


class ReaderRaisedError(AnswerError):
    """The reader's function raised; the message names the error and the reader's line."""


class TimeLimitError(Exception):
    """The function given to :func:`call_within` did not return within ``seconds``.

    ``still_running`` says that it could not be stopped and goes on in a thread.
    """

    def __init__(self, seconds: float, still_running: bool = False) -> None:
        super().__init__(f"did not return within {seconds:g} seconds")
        self.seconds = seconds
        self.still_running = still_running


def positive_seconds(value: object, name: str) -> float:
    """``value`` as a float number of seconds; TypeError or ValueError naming ``name`` if not.

    >>> positive_seconds(2, "time_limit")
    2.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number of seconds, got {value}")
    return float(value)


class _Alarm(BaseException):
    """Raised into the reader's code when its time is up.

    A BaseException, so that an ``except Exception`` in the reader's code does
    not swallow it.
    """


PASSED_THROUGH: tuple[type[BaseException], ...] = (KeyboardInterrupt, _Alarm)
"""What the checker never catches from the reader's code: the reader stopping the cell, and
the time limit's own alarm."""

_ALARM_REPEAT = 0.1  # seconds: the alarm comes again if the reader's code swallowed it


def _alarm_usable() -> bool:
    """SIGALRM works only in the main thread, on POSIX, with a handler Python can restore."""
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) is not None
    )


def _disarm_after(function: Callable[[], T], armed: list[bool]) -> T:
    try:
        return function()
    finally:
        armed[0] = False  # one store: an alarm after it no longer raises


def _resume_timer(previous: tuple[float, float], elapsed: float) -> None:
    """Set again a timer that was running before ours, less the time that has passed."""
    delay, interval = previous
    if delay > 0:
        signal.setitimer(signal.ITIMER_REAL, max(delay - elapsed, 1e-6), interval)


def _call_with_alarm(function: Callable[[], T], seconds: float) -> T:
    """``function()`` under a SIGALRM timer; the previous handler and timer are restored."""
    armed = [True]

    def on_alarm(signum: int, frame: object) -> None:
        if armed[0]:
            raise _Alarm

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    started, previous_timer = time.monotonic(), (0.0, 0.0)
    try:
        previous_timer = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6), _ALARM_REPEAT)
        return _disarm_after(function, armed)
    except _Alarm:
        raise TimeLimitError(seconds) from None
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)  # before its own timer may fire
        _resume_timer(previous_timer, time.monotonic() - started)


def _call_in_thread(function: Callable[[], T], seconds: float) -> T:
    """``function()`` in a daemon thread, waited for ``seconds``; one that runs on is left."""
    outcome: dict[str, object] = {}
    grad_enabled = torch.is_grad_enabled()  # grad mode is per thread in torch

    def run() -> None:
        try:
            with torch.set_grad_enabled(grad_enabled):
                outcome["value"] = function()
        except BaseException as error:  # handed to the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=run, name="checked function", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeLimitError(seconds, still_running=True)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def call_within(function: Callable[[], T], seconds: float) -> T:
    """``function()``, or :class:`TimeLimitError` if it has not returned after ``seconds``.

    In the main thread on POSIX a SIGALRM timer interrupts the function (the
    previous handler and timer are restored afterwards). Elsewhere (another
    thread, Windows) the function runs in a daemon thread that is waited for;
    if it never returns it is left running in the background. Code stuck in
    one long C call (``sum(range(10**12))``) is stopped only when that call
    returns.

    >>> call_within(lambda: 6 * 7, seconds=1.0)
    42
    """
    seconds = positive_seconds(seconds, "seconds")
    if _alarm_usable():
        return _call_with_alarm(function, seconds)
    return _call_in_thread(function, seconds)


_LIBRARY_DIRS = tuple(
    {sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parents[1])}
)


def _is_readers_file(filename: str) -> bool:
    path = str(Path(filename).resolve()) if not filename.startswith("<") else filename
    return not path.startswith(_LIBRARY_DIRS)


def where_it_raised(error: BaseException) -> str:
    """ " (line N of your cell: `code`)" for the deepest frame of the reader's own code, or ""."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if _is_readers_file(frame.filename) and frame.filename != __file__
    ]
    if not frames:
        return ""
    frame = frames[-1]
    in_cell = re.search(r"ipykernel_|<ipython-input-", frame.filename)
    place = "your cell" if in_cell else Path(frame.filename).name
    code = f": `{frame.line.strip()}`" if frame.line else ""
    return f" (line {frame.lineno} of {place}{code})"


def crash_summary(error: BaseException) -> str:
    """ "your function raised Name: first line", for any error, however odd."""
    try:
        text = str(error).strip()
    except Exception:  # an exception whose __str__ raises
        text = ""
    said = f": {text.splitlines()[0][:300]}" if text else ""
    return f"your function raised {type(error).__name__}{said}"


def _crash_message(error: BaseException) -> str:
    """:func:`crash_summary`, then where it raised: "(line N of ...)"."""
    try:
        where = where_it_raised(error)
    except Exception:  # a traceback that cannot be read
        where = ""
    return crash_summary(error) + where


def call_reader(function: Callable[..., object], args: tuple[object, ...]) -> object:
    """Call the reader's function; a crash becomes a :class:`ReaderRaisedError` naming its line.

    Any exception counts, SystemExit and other BaseExceptions included; only
    KeyboardInterrupt (the reader stopping the cell) goes through.
    """
    try:
        return function(*args)
    except PASSED_THROUGH:
        raise
    except BaseException as error:  # the reader's code may raise anything
        raise ReaderRaisedError(_crash_message(error)) from None


@contextlib.contextmanager
def global_state_kept() -> Iterator[None]:
    """Restore torch's, numpy's and ``random``'s global generators, torch's grad mode and
    default dtype on leaving, whatever ran inside (a reader's ``torch.manual_seed``, a
    module built with ``torch.randn``)."""
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    grad_enabled, default_dtype = torch.is_grad_enabled(), torch.get_default_dtype()
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        np.random.set_state(numpy_state)
        random.setstate(python_state)
        torch.set_grad_enabled(grad_enabled)
        torch.set_default_dtype(default_dtype)
