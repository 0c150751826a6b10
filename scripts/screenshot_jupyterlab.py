#!/usr/bin/env python3
"""Screenshot a notebook as a reader sees it in JupyterLab 4: untrusted, no kernel, outputs as saved.

    python scripts/screenshot_jupyterlab.py notebooks/02_distance_maps.ipynb \\
        figures/jupyterlab_notebook2.png --near "Explorer: CE"

starts ``python3 -m jupyter lab`` on 127.0.0.1 (a free port, a random token, no browser) serving the
checkout, opens ``/lab/tree/<notebook>`` in headless Chromium (Debian: ``apt-get install chromium``),
scrolls the first cell whose text contains ``--near`` to the top of the notebook and saves a PNG of the
window (less the blank below the notebook's end, if it ends in the window). Always stops the server and Chromium and removes its temporary folders, also on errors.

Nothing is written into the checkout and no kernel runs:

* ``--LabApp.notebook_starts_kernel=False``: JupyterLab opens the notebook with "No Kernel" and no
  kernel picker dialog (the dialog only comes when a cell is run); the script checks that
  ``/api/kernels`` and ``/api/sessions`` are still empty after the screenshot;
* a pre-save hook refuses every save (autosave only saves a changed notebook, but just in case),
  checkpoints go to a temporary folder (not ``.ipynb_checkpoints/`` beside the notebook), the trust
  database is in memory, JupyterLab's settings, workspaces and the server's runtime files are temporary;
* the script compares the notebook's bytes before and after and fails if they changed.

Why the Chrome DevTools protocol and not ``chromium --screenshot``: a command-line screenshot cannot
scroll, JupyterLab ignores a ``#heading`` fragment in a ``/lab/tree/`` URL (its tree resolver opens the
file from the page config), and the window would have to be very tall to crop from. Here Chromium runs
with ``--remote-debugging-port`` and the script (websocket-client, a jupyter_server dependency) waits
until the cell is rendered, calls ``scrollIntoView`` on it, waits for its images, then captures.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: JupyterLab user settings for the screenshot: every cell in the DOM (so that the text to scroll to can
#: be found, whatever its distance from the top), no news or update notification over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio"]


def refuse_save(model=None, path="", contents_manager=None, **kwargs):
    """The server's pre-save hook: this server is for reading, it never writes a file."""
    from tornado import web
    raise web.HTTPError(403, f"screenshot_jupyterlab: read-only server, not saving {path}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _get_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def _wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (OSError, urllib.error.URLError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _stop(proc: subprocess.Popen | None, name: str, grace: float = 10.0) -> None:
    """Stop one process we started (its own process group: Chromium's helpers too)."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop on {sig.name}", file=sys.stderr)


class DevTools:
    """The smallest Chrome DevTools protocol client: one page, synchronous commands."""

    def __init__(self, ws_url: str):
        import websocket  # websocket-client, installed with jupyter_server
        self._ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self._id = 0

    def send(self, method: str, **params):
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        self._ws.close()


# Finds the first notebook cell whose text contains NEAR (rendered markdown, code, outputs).
_FIND_CELL = """(() => {
  const near = %s;
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')];
  const i = cells.findIndex(c => c.textContent.includes(near));
  return i;
})()"""

# Scrolls that cell to the top of the notebook's scroller, MARGIN px below it; the resulting scroll.
_SCROLL_TO_CELL = """(() => {
  const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')[%d];
  cell.scrollIntoView({block: 'start'});
  let scroller = cell.parentElement;
  while (scroller && scroller.scrollHeight <= scroller.clientHeight) scroller = scroller.parentElement;
  if (scroller) scroller.scrollTop = Math.max(0, scroller.scrollTop - %d);
  return scroller ? scroller.scrollTop : -1;
})()"""

# True once the notebook's images are decoded, its MathJax typeset and no spinner is left.
_SETTLED = """(() => {
  const nb = document.querySelector('.jp-NotebookPanel .jp-Notebook');
  if (!nb) return false;
  const images = [...nb.querySelectorAll('img')];
  if (!images.every(img => img.complete)) return false;
  if (nb.querySelector('.jp-Spinner, mjx-container[jax][aria-busy="true"]')) return false;
  return true;
})()"""

_DIALOGS = "document.querySelectorAll('.jp-Dialog').length"

# Where the notebook's last cell ends, in window pixels (to leave out the blank below a short end).
_CONTENT_BOTTOM = """(() => {
  const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell');
  return cells.length ? Math.ceil(cells[cells.length - 1].getBoundingClientRect().bottom) : -1;
})()"""


def screenshot(notebook: Path, out: Path, near: str | None, *, width: int = 1400,
               height: int = 2400, margin: int = 24, timeout: float = 120.0,
               chromium: str = "chromium", settle: float = 2.0, trim: bool = True,
               verbose: bool = False) -> Path:
    notebook = notebook.resolve()
    try:
        rel = notebook.relative_to(ROOT)
    except ValueError:
        raise SystemExit(f"{notebook} is not inside the checkout {ROOT}")
    if not notebook.is_file():
        raise SystemExit(f"no notebook {notebook}")
    if shutil.which(chromium) is None:
        raise SystemExit(f"{chromium} not found: apt-get update && apt-get install -y chromium")
    before = _sha256(notebook)

    tmp = Path(tempfile.mkdtemp(prefix="screenshot_jupyterlab-"))
    server = browser = devtools = None
    log = open(tmp / "server.log", "w")
    try:
        settings_dir = tmp / "settings"
        for name, value in LAB_SETTINGS.items():
            (settings_dir / name).parent.mkdir(parents=True, exist_ok=True)
            (settings_dir / name).write_text(json.dumps(value))
        port, token = _free_port(), secrets.token_hex(24)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent)]
                                              + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
                   "--LabApp.notebook_starts_kernel=False",
                   f"--LabApp.user_settings_dir={settings_dir}",
                   f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
                   "--ContentsManager.pre_save_hook=screenshot_jupyterlab.refuse_save",
                   f"--FileCheckpoints.checkpoint_dir={tmp / 'checkpoints'}",
                   "--NotebookNotary.db_file=:memory:"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        server = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        api = lambda path: _get_json(f"{base}{path}?token={token}")  # noqa: E731
        _wait_for(lambda: server.poll() is None and api("/api/status"), timeout, "the Jupyter server")

        profile = tmp / "chromium"
        browser = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        active = profile / "DevToolsActivePort"
        debug_port = _wait_for(lambda: active.is_file() and active.read_text().split("\n")[0].strip(),
                               30, "Chromium's DevTools port")
        pages = _wait_for(lambda: [t for t in _get_json(f"http://127.0.0.1:{debug_port}/json/list")
                                   if t.get("type") == "page"], 30, "a Chromium page")
        devtools = DevTools(pages[0]["webSocketDebuggerUrl"])
        devtools.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        url = f"{base}/lab/tree/{urllib.parse.quote(rel.as_posix())}?token={token}"
        if verbose:
            print(f"opening {url.replace(token, '<token>')}", file=sys.stderr)
        devtools.send("Page.enable")
        devtools.send("Page.navigate", url=url)

        target = near if near is not None else ""
        index = _wait_for(lambda: (lambda i: None if i is None or i < 0 else i + 1)(
            devtools.evaluate(_FIND_CELL % json.dumps(target))), timeout,
            f"a cell containing {target!r} in {rel}") - 1
        _wait_for(lambda: devtools.evaluate(_SETTLED), timeout, "the notebook's images and math")
        time.sleep(settle)  # late layout: images decoded, MathJax re-flows
        scrolled = devtools.evaluate(_SCROLL_TO_CELL % (index, margin if near is not None else 0))
        _wait_for(lambda: devtools.evaluate(_SETTLED), timeout, "the notebook after scrolling")
        time.sleep(settle)
        # a second pass: typesetting above the cell may have moved it while we waited
        scrolled = devtools.evaluate(_SCROLL_TO_CELL % (index, margin if near is not None else 0))
        time.sleep(0.5)
        if verbose:
            print(f"cell {index} (0-based, among rendered cells), scrollTop {scrolled}", file=sys.stderr)
        if devtools.evaluate(_DIALOGS):
            raise RuntimeError("a JupyterLab dialog is open over the notebook; not saving a screenshot")
        capture = {"format": "png"}
        bottom = devtools.evaluate(_CONTENT_BOTTOM)
        if trim and 0 < bottom + margin < height:
            capture["clip"] = {"x": 0, "y": 0, "width": width, "height": bottom + margin, "scale": 1}
        png = base64.b64decode(devtools.send("Page.captureScreenshot", **capture)["data"])

        kernels, sessions = api("/api/kernels"), api("/api/sessions")
        if kernels or sessions:
            raise RuntimeError(f"a kernel was started: kernels {kernels}, sessions {sessions}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(png)
        return out
    except BaseException:
        log.flush()
        print((tmp / "server.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        if devtools is not None:
            try:
                devtools.close()
            except Exception:
                pass
        _stop(browser, "chromium")
        _stop(server, "jupyter lab")
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if _sha256(notebook) != before:
            raise RuntimeError(f"{rel} changed while the server was running (this server refuses "
                               "saves: did another process write it?)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path, help="a notebook inside the checkout")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--near", help="scroll the first cell whose text contains this to the top "
                                       "(default: the top of the notebook)")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--margin", type=int, default=24,
                        help="pixels shown above the cell (the end of the cell before it)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for each wait")
    parser.add_argument("--chromium", default="chromium", help="the Chromium executable")
    parser.add_argument("--no-trim", dest="trim", action="store_false",
                        help="keep the blank window below the notebook's last cell")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    out = screenshot(args.notebook, args.out, args.near, width=args.width, height=args.height,
                     margin=args.margin, timeout=args.timeout, chromium=args.chromium,
                     trim=args.trim, verbose=args.verbose)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
