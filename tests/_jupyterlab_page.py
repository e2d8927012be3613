"""What tests/test_jupyterlab.py reads inside the JupyterLab page, and how it waits on it.

Every decision is taken from state, never from how long something took: the notebook
model (each code cell's execution count and state, its outputs as the kernel sent them),
the kernel's status as the page sees it, the promise of "Run All Cells", and, for the
explorers, the widget views that the page has rendered for the outputs the kernel sent.
JupyterLab must be started with ``--LabApp.expose_app_in_browser=True`` (the page then
holds the application as ``window.jupyterapp``); ``LIBRARY`` goes in as an init script.

A wait that does not come true fails with :func:`diagnosis`: which cells ran, what the
kernel says, what the page shows.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Defined in the page before JupyterLab's own scripts run (BrowserContext.add_init_script).
LIBRARY = """
window.lessonsLab = {
  WIDGET_VIEW: '@WIDGET_VIEW@',
  panel(path) {
    const app = window.jupyterapp;
    if (!app) { return null; }
    for (const widget of app.shell.widgets('main')) {
      if (widget.context && widget.context.path === path && widget.content
          && widget.content.model) { return widget; }
    }
    return null;
  },
  kernel(path) {
    const panel = this.panel(path);
    const session = panel ? panel.sessionContext.session : null;
    return session ? session.kernel : null;
  },
  // The notebook's and its kernel's state, without the cells (cheap: polled while waiting).
  brief(path) {
    const panel = this.panel(path);
    const dialogs = Array.from(document.querySelectorAll('.jp-Dialog'))
      .map((dialog) => dialog.innerText.slice(0, 300));
    if (!panel) { return {app: !!window.jupyterapp, panel: false, dialogs}; }
    const kernel = this.kernel(path);
    return {
      app: true,
      panel: true,
      contextReady: panel.context.isReady,
      sessionReady: panel.sessionContext.isReady,
      kernelId: kernel ? kernel.id : null,
      kernel: kernel ? kernel.status : null,
      windowing: panel.content.notebookConfig.windowingMode,
      cells: panel.content.model.cells.length,
      run: window.lessonsRun || null,
      dialogs,
    };
  },
  // Everything the test decides on, and everything a failure should report.
  state(path) {
    const brief = this.brief(path);
    if (!brief.panel) { return {...brief, cells: []}; }
    const panel = this.panel(path);
    const model = panel.content.model;
    const cells = [];
    for (let i = 0; i < model.cells.length; i++) {
      const cell = model.cells.get(i);
      if (cell.type !== 'code') { continue; }
      const outputs = cell.outputs.toJSON();
      const widget = panel.content.widgets[i];
      const node = widget ? widget.node : null;
      cells.push({
        index: i,
        count: cell.executionCount,
        state: cell.executionState,
        outputs: outputs.length,
        errors: outputs.filter((o) => o.output_type === 'error')
          .map((o) => ({name: o.ename, value: o.evalue,
                        traceback: (o.traceback || []).join('\\n')})),
        widgetViews: outputs.filter((o) => o.data && o.data[this.WIDGET_VIEW]).length,
        inDocument: !!node && document.body.contains(node),
        shownOutputs: node ? node.querySelectorAll('.jp-OutputArea-output').length : 0,
        shownImages: node ? node.querySelectorAll('img.widget-image').length : 0,
      });
    }
    return {...brief, cells};
  },
  // Start "Run All Cells" on this notebook; its promise, once settled, goes to lessonsRun.
  runAll(path) {
    const panel = this.panel(path);
    window.lessonsRun = {settled: false};
    window.jupyterapp.commands.execute('notebook:run-all-cells', {widgetId: panel.id})
      .then((ok) => { window.lessonsRun = {settled: true, ok: ok === true}; },
            (error) => { window.lessonsRun = {settled: true, ok: false, error: String(error)}; });
  },
  // Evaluate Python expressions in the notebook's kernel (silently, no execution count);
  // a kernel that does not answer within timeoutMs gets that said, rather than a hang.
  async ask(path, expressions, timeoutMs) {
    const future = this.kernel(path).requestExecute(
      {code: '', silent: true, store_history: false, user_expressions: expressions});
    const silence = new Promise((resolve) => setTimeout(() => resolve(null), timeoutMs));
    const reply = await Promise.race([future.done, silence]);
    if (reply === null) {
      const status = {status: `no answer from the kernel within ${timeoutMs / 1000} s`};
      return Object.fromEntries(Object.keys(expressions).map((name) => [name, status]));
    }
    return reply.content.user_expressions;
  },
  // The outputs (cell, output index) that show one of the given widget models.
  outputsShowing(path, modelIds) {
    const panel = this.panel(path);
    const found = [];
    panel.content.widgets.forEach((cell, i) => {
      if (cell.model.type !== 'code') { return; }
      for (let j = 0; j < cell.outputArea.model.length; j++) {
        const view = cell.outputArea.model.get(j).data[this.WIDGET_VIEW];
        if (view && modelIds.includes(view.model_id)) {
          found.push({cell: i, output: j, model: view.model_id});
        }
      }
    });
    return found;
  },
  // Mark each explorer's output node (data-lessons-explorer=k) and say which are ready:
  // the explorer's box holds its row of controls (each with something to move) and a
  // loaded picture.
  explorersReady(path, explorers) {
    const panel = this.panel(path);
    window.lessonsExplorerStates = explorers.map((explorer, k) => {
      const child = panel.content.widgets[explorer.cell].outputArea.widgets[explorer.output];
      const node = child ? child.node.querySelector('.jp-OutputArea-output') : null;
      if (!node) { return {k, marked: false, ready: false}; }
      node.setAttribute('data-lessons-explorer', String(k));
      const box = node.querySelector('.widget-vbox');
      const row = box ? box.querySelector(':scope > .widget-hbox') : null;
      const image = box ? box.querySelector(':scope > img.widget-image') : null;
      const controls = row ? Array.from(row.children) : [];
      const movable = controls.filter((control) => control.querySelector(
        'select, input, button, .noUi-handle, .ui-slider-handle')).length;
      const loaded = !!image && image.complete && image.naturalWidth > 0;
      return {
        k, marked: true, controls: controls.length, movable, loaded,
        ready: controls.length === explorer.controls && movable === explorer.controls && loaded,
      };
    });
    return window.lessonsExplorerStates;
  },
};
""".replace("@WIDGET_VIEW@", WIDGET_VIEW)

# The notebook is open, its session has the kernel the test started, and that kernel is idle.
OPEN = """({path, kernel}) => {
  const s = lessonsLab.brief(path);
  return s.panel && s.contextReady && s.sessionReady && s.kernelId === kernel
    && s.kernel === 'idle' && s.cells > 0;
}"""

# "Run All Cells" has settled (every cell's reply and every output has come) and the kernel
# is idle again.
RAN = """(path) => {
  const s = lessonsLab.brief(path);
  return s.run !== null && s.run.settled && s.kernel === 'idle';
}"""

EXPLORERS_READY = """({path, explorers}) =>
  lessonsLab.explorersReady(path, explorers).every((explorer) => explorer.ready)"""

PICTURE_CHANGED = (
    """([img, before]) => img.src !== before && img.complete && img.naturalWidth > 0"""
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def page_state(page: Any, path: str) -> dict[str, Any]:
    return page.evaluate("(path) => lessonsLab.state(path)", path)


def ask_kernel(page: Any, path: str, expression: str, timeout_ms: int = 300_000) -> Any:
    """The value of a Python expression in the notebook's kernel (a Python literal)."""
    answer = page.evaluate(
        "([path, expression, ms]) => lessonsLab.ask(path, {value: expression}, ms)",
        [path, expression, timeout_ms],
    )["value"]
    if answer.get("status") != "ok":
        raise AssertionError(f"the kernel could not evaluate {expression!r}: {answer}")
    return ast.literal_eval(answer["data"]["text/plain"])


def describe_cells(cells: list[dict[str, Any]]) -> str:
    lines = []
    for cell in cells:
        line = (
            f"  cell {cell['index']}: count={cell['count']} state={cell['state']} "
            f"outputs={cell['outputs']} widget views={cell['widgetViews']} | in the page: "
            f"{'shown' if cell['inDocument'] else 'NOT in the document'}, "
            f"{cell['shownOutputs']} outputs, {cell['shownImages']} widget images"
        )
        for error in cell["errors"]:
            line += f"\n    {error['name']}: {error['value']}"
        lines.append(line)
    return "\n".join(lines)


def diagnosis(page: Any, path: str, server: dict[str, Any]) -> str:
    """What the notebook model, the kernel and the page show now; never raises."""
    parts = []
    try:
        state = page_state(page, path)
        summary = {key: value for key, value in state.items() if key != "cells"}
        parts.append(f"page: {json.dumps(summary)}")
        parts.append(describe_cells(state["cells"]) or "  (no code cells in the model)")
        explorers = page.evaluate("() => window.lessonsExplorerStates || null")
        if explorers is not None:
            parts.append(f"explorers (as last checked): {json.dumps(explorers)}")
    except Exception as error:  # the page itself may be what broke
        parts.append(f"page state unavailable: {error}")
    try:
        parts.append(f"server: kernel {json.dumps(server['kernel_state']())}")
    except Exception as error:
        parts.append(f"server: kernel state unavailable: {error}")
    parts.append("server log (end):\n" + server["log"]()[-1500:])
    return "\n".join(parts)


def tracebacks(cells: list[dict[str, Any]]) -> list[str]:
    return [
        f"cell {cell['index']}: " + ANSI.sub("", error["traceback"])[-1500:]
        for cell in cells
        for error in cell["errors"]
    ]
