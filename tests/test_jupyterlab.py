"""Live explorers in a real JupyterLab, driven by headless Chromium.

The test starts JupyterLab (pinned in requirements.txt) on 127.0.0.1 with a random
token, in a temporary folder holding a copy of the chapter, starts the notebook's kernel
through the server's REST API, opens the notebook in Chromium (playwright with the system
browser, as tests/test_browser.py), runs all cells, then moves one control of every
explorer and checks that its picture changes. Each picture must show at its natural size:
not stretched to the output's width by the flex box that holds it. The server and its
kernels are stopped whatever happens.

Nothing is decided from timing. The server's settings turn JupyterLab's notebook
windowing off (``windowingMode: "none"``: every cell is in the page, not only those near
the view), and the test checks that they took effect. It waits on states, each with a
generous timeout for a loaded machine: the kernel idle; "Run All Cells" settled, which
JupyterLab does once every cell's reply and outputs have come; the explorers, as the
kernel lists them, rendered with their controls and a loaded picture; the new picture
after a move (tests/_jupyterlab_page.py reads the page). A wait that does not come true
fails with what the cells, the kernel and the page show, and a screenshot.

`make unit` runs it for two chapters (``JUPYTERLAB_CHAPTERS`` unset); `make
test-jupyterlab` for every chapter (``JUPYTERLAB_CHAPTERS=all``, or a comma-separated
list of chapter names). Without Chromium it skips, or fails when ``CI`` is set.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import psutil
import pytest

from tests._jupyterlab_page import (
    EXPLORERS_READY,
    LIBRARY,
    OPEN,
    PICTURE_CHANGED,
    RAN,
    ask_kernel,
    diagnosis,
    page_state,
    tracebacks,
)

# Pinned in requirements.txt; an environment without them (e.g. make test-lowest's) skips.
pytest.importorskip("jupyterlab")
pytest.importorskip("playwright")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("LESSONS_CHROMIUM", "/usr/bin/chromium")
ALL_CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("*.ipynb"))
DEFAULT_CHAPTERS = ["01_qkv", "02_softmax"]
# Generous limits for a loaded machine: each only bounds a wait on a state, so a passing
# run never waits them out.
START_TIMEOUT_S = 300  # the server answers
STEP_TIMEOUT_MS = 300_000  # the notebook opens, its kernel idle; explorers render; a move
RUN_TIMEOUT_MS = 900_000  # Run All Cells settles
TRACKER = "@jupyterlab/notebook-extension:tracker"
# The settings the server starts with (JUPYTERLAB_SETTINGS_DIR): the notebook's kernel
# starts without a "Select Kernel" dialog; every cell stays in the page (no windowing);
# no news, update check or toast notifications over the notebook.
SETTINGS = {
    TRACKER: {"autoStartDefaultKernel": True, "windowingMode": "none"},
    "@jupyterlab/apputils-extension:notification": {
        "checkForUpdates": False,
        "doNotDisturbMode": True,
        "fetchNews": "false",
    },
}
# The kernel's own list of live explorers: {widget model id: number of controls}.
EXPLORERS_IN_KERNEL = (
    "{e.model_id: len(e.controls) for e in list("
    "__import__('lessons_lib.widgets', fromlist=['Explorer']).Explorer.instances)"
    " if getattr(e, 'comm', None) is not None}"
)
SHOTS = ROOT / "_build" / "screenshots"  # a failing run leaves its picture here


def chosen_chapters() -> list[str]:
    wanted = os.environ.get("JUPYTERLAB_CHAPTERS", "")
    if wanted == "all":
        return ALL_CHAPTERS
    names = [name.strip() for name in wanted.split(",") if name.strip()] or DEFAULT_CHAPTERS
    return [name for name in names if name in ALL_CHAPTERS]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def api(server: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    """Call the Jupyter server's REST API; the decoded JSON answer."""
    request = urllib.request.Request(
        f"{server['base']}/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {server['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=START_TIMEOUT_S) as answer:
        return json.loads(answer.read() or b"null")


def wait_for(what: str, done: Callable[[], bool], timeout_s: float, why: Callable[[], str]) -> None:
    """Poll ``done`` (a state) until it holds; fail with ``why()`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout_s:.0f} s: {why()}")
        time.sleep(0.25)


def notebook_without_outputs(source: Path, target: Path) -> None:
    """Copy a notebook with no outputs and no execution counts: every count is this run's."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    target.write_text(json.dumps(notebook), encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which(CHROMIUM)
    if executable is None:
        message = f"no Chromium at {CHROMIUM}: install it (`sudo apt-get install chromium`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def jupyterlab(tmp_path: Path, chapter: str) -> Iterator[dict[str, Any]]:
    """A JupyterLab server of its own over a copy of one chapter, with the notebook's session
    and kernel started; stopped, kernels and all, at the end.

    One server per chapter: a second notebook opened in the same server sometimes never
    started running (seen on a busy machine), and a fresh server costs a few seconds.
    """
    folder = tmp_path / "jupyterlab"
    folder.mkdir()
    notebook = f"{chapter}.ipynb"
    notebook_without_outputs(ROOT / "book" / notebook, folder / notebook)
    for extra in (ROOT / "book").iterdir():  # data files a chapter may read beside it
        if extra.is_file() and extra.suffix not in (".ipynb", ".md"):
            shutil.copy2(extra, folder / extra.name)
    for plugin, values in SETTINGS.items():
        package, name = plugin.split(":")
        settings = folder / ".settings" / package
        settings.mkdir(parents=True, exist_ok=True)
        (settings / f"{name}.jupyterlab-settings").write_text(json.dumps(values))
    token = secrets.token_hex(16)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LESSONS_STATIC_WIDGETS"}  # live widgets
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(folder / ".settings"),
        JUPYTER_CONFIG_DIR=str(folder / ".config"),
        JUPYTER_RUNTIME_DIR=str(folder / ".runtime"),
        JUPYTER_PREFER_ENV_PATH="1",
    )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        f"--LabApp.workspaces_dir={folder / '.workspaces'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, read by the test
        "--allow-root",  # CI runs as root; no effect otherwise
    ]
    log_path = folder / "jupyterlab.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    lab: dict[str, Any] = {
        "base": f"http://127.0.0.1:{port}",
        "token": token,
        "folder": folder,
        "path": notebook,
        "log": lambda: log_path.read_text(errors="replace"),
    }

    def last_log() -> str:
        return lab["log"]()[-2000:]

    try:

        def answers() -> bool:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {lab['log']()[-2000:]}")
            try:
                api(lab, "GET", "api/status")
                return True
            except OSError:
                return False

        wait_for(
            "JupyterLab did not answer", answers, START_TIMEOUT_S, lambda: lab["log"]()[-2000:]
        )
        # The notebook's session and kernel, started here: JupyterLab opens the notebook on
        # this session, so it never has to choose a kernel (nor ask which).
        session = api(
            lab,
            "POST",
            "api/sessions",
            {"path": notebook, "name": notebook, "type": "notebook", "kernel": {"name": "python3"}},
        )
        kernel = session["kernel"]["id"]
        lab["kernel_id"] = kernel
        # The server's view of the kernel, for diagnoses: it reads "starting" until a client
        # connects, so the test waits on the page's view (idle) instead.
        lab["kernel_state"] = lambda: api(lab, "GET", f"api/kernels/{kernel}")
        yield lab
    finally:
        stop(server, folder)
        log.close()


def stop(server: subprocess.Popen, folder: Path) -> None:
    """Stop the server (its process group) and every kernel it started.

    Kernels run in sessions of their own, so killing the server's group does not
    reach them; each is found by its connection file in this server's runtime folder.
    """
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    runtime = str(folder / ".runtime")
    kernels = [
        process
        for process in psutil.process_iter(["cmdline"])
        if any(runtime in part for part in process.info["cmdline"] or [])
    ]
    for kernel in kernels:
        kernel.kill()
    psutil.wait_procs(kernels, timeout=60)


def move_control(output: Any) -> str:
    """Move the first control of an explorer's output by one step; say which kind it was."""
    select = output.locator("select")
    if select.count():
        options = select.first.evaluate("el => Array.from(el.options).map((o) => o.value)")
        current = select.first.input_value()
        select.first.select_option(next(value for value in options if value != current))
        return "dropdown"
    handle = output.locator(".noUi-handle, .ui-slider-handle")
    if handle.count():
        now, top = (handle.first.get_attribute(name) for name in ("aria-valuenow", "aria-valuemax"))
        at_the_end = now is not None and top is not None and float(now) >= float(top)
        handle.first.focus()
        handle.first.press("ArrowLeft" if at_the_end else "ArrowRight")  # a step it can take
        return "slider"
    checkbox = output.locator("input[type=checkbox]")
    if checkbox.count():
        checkbox.first.click()
        return "checkbox"
    toggle = output.locator(
        "button.widget-toggle-button:not(.mod-active),"
        " .widget-toggle-button button:not(.mod-active)"
    )
    if toggle.count():
        toggle.first.click()  # a button not already chosen
        return "toggle"
    raise AssertionError("an explorer with no control this test can move")


@pytest.mark.parametrize("chapter", chosen_chapters())
def test_every_explorer_responds_at_natural_size(browser, jupyterlab, chapter):
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    # The server's settings API: the settings the test relies on took effect.
    tracker = api(jupyterlab, "GET", f"lab/api/settings/{TRACKER}")["settings"]
    for name, value in SETTINGS[TRACKER].items():
        assert tracker.get(name) == value, f"JupyterLab's {TRACKER} {name} is {tracker.get(name)!r}"

    path = jupyterlab["path"]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.add_init_script(script=LIBRARY)
    page = context.new_page()

    def fail(what: str, extra: str = "") -> NoReturn:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"jupyterlab-{chapter}.png"
        try:
            page.screenshot(path=str(shot))
        except PlaywrightTimeoutError:
            shot = Path("(no screenshot)")
        pytest.fail(f"{chapter}: {what} ({shot})\n{extra}{diagnosis(page, path, jupyterlab)}")

    def wait(
        what: str, predicate: str, arg: Any, timeout_ms: int, extra: Callable[[], str] = str
    ) -> None:
        try:
            page.wait_for_function(predicate, arg=arg, timeout=timeout_ms, polling=250)
            return
        except PlaywrightTimeoutError:
            pass
        fail(f"{what} within {timeout_ms // 1000} s", extra())

    try:
        token = jupyterlab["token"]
        page.goto(f"{jupyterlab['base']}/lab/tree/{path}?token={token}", wait_until="load")
        wait(
            "the notebook did not open, idle, on the kernel the test started",
            OPEN,
            {"path": path, "kernel": jupyterlab["kernel_id"]},
            STEP_TIMEOUT_MS,
        )
        if page.evaluate("(path) => lessonsLab.brief(path)", path)["windowing"] != "none":
            fail("the notebook renders with windowing on")

        page.evaluate("(path) => lessonsLab.runAll(path)", path)
        wait("Run All Cells did not finish", RAN, path, RUN_TIMEOUT_MS)
        state = page_state(page, path)
        failed = tracebacks(state["cells"])
        if failed:
            fail("a cell failed", failed[0] + "\n")
        not_run = [cell["index"] for cell in state["cells"] if cell["count"] is None]
        if not_run or not state["run"]["ok"]:
            fail(f"Run All Cells: {state['run']}, cells that did not run: {not_run}")

        in_kernel = ask_kernel(page, path, EXPLORERS_IN_KERNEL)
        explorers = page.evaluate(
            "([path, ids]) => lessonsLab.outputsShowing(path, ids)", [path, list(in_kernel)]
        )
        if not explorers:
            fail(f"no output shows an explorer; the kernel's explorers: {in_kernel}")
        for explorer in explorers:
            explorer["controls"] = in_kernel[explorer["model"]]
        wait(
            f"the {len(explorers)} explorers did not render their controls and pictures",
            EXPLORERS_READY,
            {"path": path, "explorers": explorers},
            STEP_TIMEOUT_MS,
        )

        for k, explorer in enumerate(explorers):
            name = f"explorer {k + 1} (cell {explorer['cell']})"
            output = page.locator(f"[data-lessons-explorer='{k}']")
            image = output.locator(".widget-vbox > img.widget-image").first
            output.scroll_into_view_if_needed()
            before = image.get_attribute("src")
            kind = move_control(output)

            def what_it_shows(explorer: dict[str, Any] = explorer, output: Any = output) -> str:
                try:
                    values = ask_kernel(
                        page,
                        path,
                        "{n: repr(c.value) for e in list(__import__('lessons_lib.widgets', "
                        "fromlist=['Explorer']).Explorer.instances) if e.model_id == "
                        f"{explorer['model']!r} for n, c in e.controls.items()}}",
                        timeout_ms=60_000,
                    )
                    shown = output.inner_text(timeout=60_000)
                except Exception as error:  # a diagnosis: say what could not be read
                    return f"(the control values could not be read: {error})\n"
                return f"the kernel's control values: {values}\nthe output: {shown}\n"

            wait(
                f"{name}: moving its {kind} did not change the picture",
                PICTURE_CHANGED,
                [image.element_handle(), before],
                STEP_TIMEOUT_MS,
                what_it_shows,
            )
            size = image.evaluate(
                "img => ({natural: img.naturalWidth, shown: img.getBoundingClientRect().width})"
            )
            assert abs(size["shown"] - size["natural"]) <= 1, (
                f"{chapter}, {name} ({kind}): shown {size['shown']:.0f} px wide, "
                f"natural {size['natural']} px: the picture is stretched"
            )
    finally:
        context.close()
