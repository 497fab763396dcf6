"""Drive JupyterLab in a real browser: a private headless lab server and Debian's Chromium.

    with jupyter_lab(root_dir, private_dir) as url, chromium_page(private_dir) as page:
        open_notebook(page, url, "work/demo.ipynb")
        run_all_cells(page)

Everything the server and the kernel write (config, runtime files, IPython and matplotlib caches,
the browser profile) goes to `private_dir`, so a run neither reads nor changes a user's Jupyter
set-up. The browser is the system's Chromium (apt); Playwright only drives it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Headless in a container: no sandbox (root), software WebGL, and no traffic to the outside.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]
# Lab settings for a clean, stable page: no news or update pop-up over the screenshots, and every
# cell kept in the page (a windowed notebook drops off-screen cells from the DOM).
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None where it is not installed."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _private_env(private_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")]:
        (private_dir / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(private_dir / sub)
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONHASHSEED="0",
               XAI_MODEL=os.environ.get("XAI_MODEL", "course"), XAI_PROGRESS="0")
    env.pop("MPLBACKEND", None)  # let the kernel use the inline backend, as in a learner's lab
    return env


def _get_json(url: str, method: str = "GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=5) as resp:
        body = resp.read()
    return json.loads(body) if body else None


@contextmanager
def jupyter_lab(root_dir: Path, private_dir: Path, timeout_s: float = 90):
    """A headless JupyterLab serving `root_dir` on a free loopback port; yields its base URL.

    No token (loopback only), root allowed, the app exposed to page scripts (the test drives
    lab commands through it). Kernels and the server are stopped on exit, also after errors.
    """
    private_dir.mkdir(parents=True, exist_ok=True)
    settings = private_dir / "app-settings"
    settings.mkdir(exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=1))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", "--allow-root", "--IdentityProvider.token=",
           "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root_dir}",
           "--LabApp.expose_app_in_browser=True", f"--LabApp.app_settings_dir={settings}",
           "--LabApp.check_for_updates_class="
           "jupyterlab.handlers.announcements.NeverCheckForUpdate"]
    log = open(private_dir / "jupyterlab.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_private_env(private_dir),
                            cwd=root_dir, start_new_session=True)
    try:
        deadline = time.time() + timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start (code {proc.returncode}); see "
                                   f"{private_dir / 'jupyterlab.log'}")
            try:
                _get_json(f"{url}/api/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"JupyterLab did not answer on {url} in {timeout_s:.0f} s")
                time.sleep(0.5)
        yield url
    finally:
        try:  # kernels run in their own sessions: shut them down through the server first
            for kernel in _get_json(f"{url}/api/kernels") or []:
                _get_json(f"{url}/api/kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@contextmanager
def chromium_page(private_dir: Path, width: int = 1400, height: int = 1500):
    """A Playwright page in headless Chromium with a fresh profile in `private_dir`."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError("Chromium is not installed: apt-get install -y chromium")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(private_dir / "chromium-profile"), executable_path=executable, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": width, "height": height})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


# --- the notebook, through the lab application the page exposes (window.jupyterapp) -------------

_NOTEBOOK = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL_STATUS = f"""() => {{
  const nb = {_NOTEBOOK};
  const kernel = nb && nb.sessionContext && nb.sessionContext.session &&
                 nb.sessionContext.session.kernel;
  return kernel ? kernel.status : null;
}}"""
_PROMPTS = f"""() => {{
  const nb = {_NOTEBOOK};
  if (!nb || !nb.content) return null;
  return nb.content.widgets.filter(c => c.model.type === 'code').map(c =>
    c.promptNode ? c.promptNode.textContent.trim() : '');
}}"""


def open_notebook(page, base_url: str, relpath: str, timeout_s: float = 120) -> None:
    """Open `relpath` (relative to the lab's root) and wait until its kernel is idle."""
    # ?reset: start from an empty workspace, not from the tabs a previous run left open
    page.goto(f"{base_url}/lab/tree/{relpath}?reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout_s * 1000)
    wait_for_idle(page, timeout_s)


def kernel_status(page) -> str | None:
    return page.evaluate(_KERNEL_STATUS)


def prompts(page) -> list[str]:
    """The execution prompt of every code cell, e.g. ['[1]:', '[*]:', '[ ]:']."""
    return page.evaluate(_PROMPTS) or []


def wait_for_idle(page, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while kernel_status(page) != "idle":
        if time.time() > deadline:
            raise TimeoutError(f"the kernel is still {kernel_status(page)!r} after {timeout_s:.0f} s")
        time.sleep(0.5)


def run_all_cells(page, timeout_s: float = 600, attempts: int = 3) -> list[str]:
    """Run every cell and wait until all have run; returns the final prompts.

    A run-all sent right after the kernel reports idle is sometimes dropped: check that a prompt
    turns to [*] (or a number) within seconds and send it again if none does.
    """
    for _ in range(attempts):
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        started = time.time()
        while time.time() - started < 15:
            if any(p not in ("[ ]:", "") for p in prompts(page)):
                break
            time.sleep(0.3)
        else:
            continue
        break
    else:
        raise RuntimeError(f"'run all cells' started no cell in {attempts} attempts")
    deadline, idle_since = time.time() + timeout_s, None
    while True:
        shown = prompts(page)
        idle = kernel_status(page) == "idle" and "[*]:" not in shown
        if idle and all(re.fullmatch(r"\[\d+\]:", p) for p in shown):
            return shown
        # A failing cell stops the run: the cells below it never start. Return once the
        # kernel has stayed idle for a few seconds; the caller reports the error outputs.
        idle_since = (idle_since or time.time()) if idle else None
        if idle_since and time.time() - idle_since > 5:
            return shown
        if time.time() > deadline:
            raise TimeoutError(f"cells still running after {timeout_s:.0f} s: {shown}")
        time.sleep(1)


def output_texts(page) -> list[str]:
    """Visible text of every output area (where widget errors and tracebacks appear)."""
    return page.locator(".jp-OutputArea").all_inner_texts()


def error_outputs(page) -> list[str]:
    """'ename: evalue' of every error output in the open notebook (tracebacks of failed cells)."""
    return page.evaluate(f"""() => {{
      const nb = {_NOTEBOOK};
      return nb.content.widgets.filter(c => c.model.type === 'code')
        .flatMap(c => c.model.outputs.toJSON())
        .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue);
    }}""")
