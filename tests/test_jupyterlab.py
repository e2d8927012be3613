"""Live explorers in a real JupyterLab, driven by headless Chromium.

The test starts JupyterLab (pinned in requirements.txt) on 127.0.0.1 with a random
token, in a temporary folder holding a copy of the chapter, opens it in Chromium
(playwright with the system browser, as tests/test_browser.py), runs all cells, then
moves one control of every explorer and checks that its picture changes. Each picture
must show at its natural size: not stretched to the output's width by the flex box that
holds it. The server is stopped whatever happens.

`make unit` runs it for two chapters (``JUPYTERLAB_CHAPTERS`` unset); `make
test-jupyterlab` for every chapter (``JUPYTERLAB_CHAPTERS=all``, or a comma-separated
list of chapter names). Without Chromium it skips, or fails when ``CI`` is set.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

# Pinned in requirements.txt; an environment without them (e.g. make test-lowest's) skips.
pytest.importorskip("jupyterlab")
pytest.importorskip("playwright")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("LESSONS_CHROMIUM", "/usr/bin/chromium")
ALL_CHAPTERS = sorted(path.stem for path in (ROOT / "book").glob("*.ipynb"))
DEFAULT_CHAPTERS = ["01_qkv", "02_softmax"]
RUN_TIMEOUT_S = 600
CHANGE_TIMEOUT_MS = 21_000
MOVE_ATTEMPTS = 3
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
    """A JupyterLab server of its own over a copy of one chapter; stopped at the end.

    One server per chapter: a second notebook opened in the same server sometimes never
    started running (seen on a busy machine), and a fresh server costs a few seconds.
    """
    folder = tmp_path / "jupyterlab"
    folder.mkdir()
    shutil.copy2(ROOT / "book" / f"{chapter}.ipynb", folder / f"{chapter}.ipynb")
    for extra in (ROOT / "book").iterdir():  # data files a chapter may read beside it
        if extra.is_file() and extra.suffix not in (".ipynb", ".md"):
            shutil.copy2(extra, folder / extra.name)
    token = secrets.token_hex(16)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LESSONS_STATIC_WIDGETS"}  # live widgets
    # Start the notebook's kernel without asking (no "Select Kernel" dialog).
    tracker = folder / ".settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"autoStartDefaultKernel": true}')
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
        "--allow-root",  # CI runs as root; no effect otherwise
    ]
    log = (folder / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(folder / 'jupyterlab.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 60 s")
                time.sleep(0.5)
        yield {"base": base, "token": token, "folder": folder}
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
        server.wait(timeout=20)
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
    psutil.wait_procs(kernels, timeout=10)


def accept_dialogs(page: Any) -> None:
    """Accept any dialog JupyterLab opened on its own; its text goes to the test's output.

    Its accept button takes the default: "Select" the default kernel, or "OK". Seen in CI:
    "Select Kernel" over the menu bar (JupyterLab asks when it opens the notebook before
    it has the kernel list). The ``jupyterlab`` fixture's settings now have it start the
    preferred kernel instead; this stays for any other dialog.
    """
    for _ in range(5):
        dialogs = page.locator(".jp-Dialog")
        if not dialogs.count():
            return
        print("JupyterLab dialog:", dialogs.first.inner_text()[:300].replace("\n", " | "))
        accept = dialogs.first.locator("button.jp-mod-accept")
        if accept.count():
            accept.first.click()
        else:
            page.keyboard.press("Enter")
        page.wait_for_timeout(500)


def click_run_all(page: Any) -> None:
    accept_dialogs(page)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


# Done when the kernel is idle and every code cell in view has an execution count, or as
# soon as one shows an error (Run All stops there, and the cells after it would never get a
# count). JupyterLab renders only the cells near the view, hence the kernel's state too.
FINISHED = """() => {
  const failed = document.querySelector(
    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']");
  if (failed && /Error/.test(failed.textContent)) return true;
  const idle = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
  const prompts = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'));
  return idle !== null && prompts.length > 0
    && prompts.every((p) => /\\[\\d+\\]/.test(p.textContent));
}"""
# The kernel is busy, or some cell in view waits to run (its prompt shows [*]). JupyterLab
# renders only the cells near the view, so the prompts alone can miss a running cell.
RUNNING = """() => document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='busy']")
  !== null || Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
  .some((p) => /\\[\\*\\]/.test(p.textContent))"""
STALLED_CHECKS = 3  # 10-second waits in a row with nothing running nor finished: run again


def run_all_cells(page: Any) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    # Wait until the kernel is up and idle: "Run All Cells" clicked while the notebook is
    # still starting can do nothing at all (seen on a busy machine).
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
        timeout=120_000
    )
    click_run_all(page)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    stalled = 0
    while True:
        try:
            page.wait_for_function(FINISHED, timeout=10_000, polling=1000)
            break
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
        accept_dialogs(page)
        stalled = 0 if page.evaluate(RUNNING) else stalled + 1
        if stalled >= STALLED_CHECKS:  # nothing runs and the notebook is not done
            print("JupyterLab: Run All stalled; running all cells again")
            click_run_all(page)
            stalled = 0
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = [
        text for text in errors.all_text_contents() if "Error" in text and "Traceback" in text
    ]
    assert not tracebacks, f"a cell failed: {tracebacks[0][-1500:]}"


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

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        url = f"{jupyterlab['base']}/lab/tree/{chapter}.ipynb?token={jupyterlab['token']}"
        page.goto(url, wait_until="domcontentloaded")
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        run_all_cells(page)
        outputs = page.locator(".jp-OutputArea-output:has(img.widget-image)")
        assert outputs.count(), f"{chapter}: no live explorer rendered"
        for i in range(outputs.count()):
            output = outputs.nth(i)
            output.scroll_into_view_if_needed()
            image = output.locator("img.widget-image").first
            image.wait_for(timeout=CHANGE_TIMEOUT_MS)
            before = image.get_attribute("src")
            for attempt in range(MOVE_ATTEMPTS):
                # A control moved before its view has wired its events (it renders after
                # the image) is put back by the widget's model: the picture keeps still.
                kind = move_control(output)
                try:
                    page.wait_for_function(
                        "([img, before]) => img.src !== before && img.complete"
                        " && img.naturalWidth > 0",
                        arg=[image.element_handle(), before],
                        timeout=CHANGE_TIMEOUT_MS // MOVE_ATTEMPTS,
                    )
                    break
                except PlaywrightTimeoutError:
                    if attempt + 1 < MOVE_ATTEMPTS:
                        print(f"JupyterLab: {chapter}, explorer {i + 1}: {kind} moved again")
                        continue
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    shot = SHOTS / f"jupyterlab-{chapter}-explorer{i + 1}.png"
                    page.screenshot(path=str(shot))
                    raise AssertionError(
                        f"{chapter}, explorer {i + 1}: moving its {kind} {MOVE_ATTEMPTS} times "
                        f"did not change the picture within {CHANGE_TIMEOUT_MS} ms ({shot})"
                    ) from None
            size = image.evaluate(
                "img => ({natural: img.naturalWidth, shown: img.getBoundingClientRect().width})"
            )
            assert abs(size["shown"] - size["natural"]) <= 1, (
                f"{chapter}, explorer {i + 1} ({kind}): shown {size['shown']:.0f} px wide, "
                f"natural {size['natural']} px: the picture is stretched"
            )
    finally:
        context.close()
