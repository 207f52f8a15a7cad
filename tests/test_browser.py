"""JupyterLab in a real browser: open a notebook in headless Chromium, run all cells, move an ipywidgets
slider with the keyboard and check that the printed output follows; screenshot to build/browser/.

Run with ``pytest -m browser tests/test_browser.py``. Needs Debian's ``chromium`` (``apt-get install -y
chromium``) and the ``playwright`` Python package (driving that executable; ``playwright install`` is never
used). Skips only when chromium is missing. Everything it starts (server, kernels, browser) it stops.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# Notebooks the test can drive: path, and the printed number its first slider changes. BROWSER_NOTEBOOK picks
# one; the default is chapter 1's calculator (sliders -> parameters/memory/FLOPs). The fixture is a tiny
# notebook for debugging the harness itself: BROWSER_NOTEBOOK=widget_demo make browser-test.
TARGETS = {
    "ch01_overview": (ROOT / "chapters" / "ch01_overview.ipynb", re.compile(r"parameters: ([\d,]+)")),
    "widget_demo": (ROOT / "tests" / "fixtures" / "widget_demo.ipynb", re.compile(r"n squared = (\d+)")),
}
BROWSER_NOTEBOOK = os.environ.get("BROWSER_NOTEBOOK", "ch01_overview")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "build" / "browser"
# The notebook's code cells, read from JupyterLab's own model (error outputs look like stderr in the page).
_CODE_CELLS = """window.jupyterapp.shell.currentWidget.content.widgets.filter(c => c.model.type === "code")"""
# True once every code cell has an execution count, or as soon as one holds an error (Run All stops there).
ALL_CELLS_RAN = f"""() => {{
    const cells = {_CODE_CELLS};
    if (cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === "error"))) return true;
    return cells.length > 0 && cells.every(c => c.model.executionCount !== null);
}}"""
CELL_ERRORS = f"""() => {_CODE_CELLS}.flatMap(c => c.model.outputs.toJSON())
    .filter(o => o.output_type === "error").map(o => o.ename + ": " + o.evalue)"""
KERNEL_CONNECTED = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const session = panel && panel.sessionContext && panel.sessionContext.session;
    const kernel = session && session.kernel;
    return !!kernel && kernel.connectionStatus === "connected" && kernel.status === "idle";
}"""

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smoke_copy(notebook: Path, folder: Path) -> Path:
    """Copy the notebook into ``folder`` with its parameters cell switched to the smoke profile."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(r'PROFILE\s*=\s*"cpu"', 'PROFILE = "smoke"', cell.source)
    path = folder / notebook.name
    nbformat.write(nb, path)
    return path


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s")


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (our kernels: their connection file is in our runtime dir)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def _stop_server(server: subprocess.Popen, base: str, token: str, runtime_dir: Path) -> None:
    """Ask the server to shut down (it stops its kernels), then make sure its group and kernels are gone."""
    try:
        request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=5).close()
        server.wait(timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    for pid in _processes_mentioning(str(runtime_dir)):   # kernels run in their own sessions
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a free local port serving a smoke copy of TARGET; yields (url, notebook name)."""
    served = tmp_path / "notebooks"   # only the notebook is served; profiles and logs stay outside
    served.mkdir()
    if BROWSER_NOTEBOOK not in TARGETS:
        raise ValueError(f"BROWSER_NOTEBOOK={BROWSER_NOTEBOOK!r}; choose one of {', '.join(TARGETS)}")
    notebook = _smoke_copy(TARGETS[BROWSER_NOTEBOOK][0], served)
    port, token = _free_port(), secrets.token_hex(16)
    runtime_dir = tmp_path / "runtime"
    for extension, settings in {
            "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},  # no pop-up
            # no "Select Kernel" dialog; every cell stays in the page (no virtual scrolling) so we can read it
            "notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
    }.items():
        path = tmp_path / "lab-settings" / "@jupyterlab" / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime_dir), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "BIGMODEL_BUILD_DIR": str(tmp_path / "build"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", server)
        yield f"{base}/lab/tree/{notebook.name}?token={token}", notebook.name
    finally:
        _stop_server(server, base, token, runtime_dir)
        log.close()
        if server.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
            print((tmp_path / "jupyterlab.log").read_text()[-3000:])


def _printed(cell, pattern: re.Pattern, accept, timeout: float = 30) -> str:
    """Poll the text of ``cell`` until ``pattern``'s first group satisfies ``accept``; return that group."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        match = pattern.search(cell.inner_text())
        value = match.group(1) if match else None
        if accept(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"the widget's printed value stayed {value!r} for {timeout:.0f} s ({pattern.pattern!r})")


def test_widget_renders_and_reacts_in_jupyterlab(jupyterlab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, name = jupyterlab
    pattern = TARGETS[BROWSER_NOTEBOOK][1]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOTS / f"{Path(name).stem}.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator(".jp-Notebook").first.wait_for()
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            # The kernel must be connected before "Run All": measured here, cells sent while JupyterLab was
            # still replacing its first kernel websocket were silently dropped. ``expose_app_in_browser``
            # gives us window.jupyterapp to ask.
            page.wait_for_function(KERNEL_CONNECTED, timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

            # Let the whole notebook run first: the kernel handles slider events only after the queued cells.
            page.wait_for_function(ALL_CELLS_RAN, timeout=float(os.environ.get("BROWSER_RUN_TIMEOUT_S", "300")) * 1000,
                                   polling=500)
            errors = page.evaluate(CELL_ERRORS)
            assert not errors, f"a cell failed in JupyterLab: {errors}"
            # the first cell whose output holds a slider (ipywidgets 8 draws it with noUiSlider)
            widget_cell = page.locator(".jp-Notebook .jp-Cell").filter(
                has=page.locator(".jp-OutputArea .widget-slider .noUi-handle")).first
            widget_cell.wait_for(timeout=10_000)
            handle = widget_cell.locator(".widget-slider .noUi-handle").first
            before = _printed(widget_cell, pattern, lambda v: v is not None)

            handle.focus()   # keyboard input on the focused handle is what moves a noUiSlider reliably
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            _printed(widget_cell, pattern, lambda v: v is not None and v != before)
            page.wait_for_function(KERNEL_CONNECTED)   # idle again: the last key press has been printed
            after = _printed(widget_cell, pattern, lambda v: v is not None)
            handle.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot))
        except Exception:
            failure = SCREENSHOTS / f"{Path(name).stem}-failure.png"
            page.screenshot(path=str(failure))   # what the browser showed when it went wrong
            print(f"browser test failed; the page at that moment: {failure.relative_to(ROOT)}")
            raise
        finally:
            browser.close()
    assert after != before, f"moving the slider did not change the printed value ({before})"
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000
    print(f"slider moved: printed value {before} -> {after}; screenshot {screenshot.relative_to(ROOT)}")
