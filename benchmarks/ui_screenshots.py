"""Screenshots of the MLflow UI for docs/mlflow.md, taken headless in a real browser.

Starts ``mlflow ui`` on 127.0.0.1 over a tracking store that already holds infscale runs, then
takes headless Chromium screenshots (Debian: ``apt-get install -y chromium``) of the runs list,
the compare view of the two newest runs and one run's metric charts and artifacts. PNGs go to
``docs/img/``. Nothing is simulated: the pictures show whatever runs the store holds.

    python benchmarks/ui_screenshots.py --store sqlite:///mlflow.db --experiment infscale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # 127.0.0.1 only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"ui_screenshots: the MLflow UI did not answer at {url} in {timeout_s:.0f} s")


class Browser:
    """Headless Chromium driven over the DevTools protocol (``websockets``, already installed
    with Prefect): navigate, wait until the page shows ``expect`` (the MLflow SPA renders long
    after its load event, which is when ``chromium --screenshot`` shoots: a skeleton page), then
    capture. Real time, no virtual time: the SPA's polling never lets a virtual budget finish."""

    def __init__(self, binary: str) -> None:
        import tempfile

        self._profile = tempfile.TemporaryDirectory()
        port = free_port()
        self._proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for(f"http://127.0.0.1:{port}/json/version", timeout_s=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.loads(r.read()) if t["type"] == "page")
        from websockets.sync.client import connect

        self._ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=60)
        self._id = 0

    def call(self, method: str, **params: object) -> dict:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=120))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def shoot(self, url: str, out: Path, expect: str, size: tuple[int, int] = (1600, 1000),
              timeout_s: float = 180.0) -> None:
        import base64

        self.call("Emulation.setDeviceMetricsOverride", width=size[0], height=size[1],
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        deadline, shown = time.monotonic() + timeout_s, False
        probe = f"document.body && document.body.innerText.includes({json.dumps(expect)})"
        while time.monotonic() < deadline and not shown:
            time.sleep(1)
            shown = bool(self.call("Runtime.evaluate", expression=probe, returnByValue=True)
                         .get("result", {}).get("value"))
        if not shown:
            raise SystemExit(f"ui_screenshots: {url} did not show '{expect}' in {timeout_s:.0f} s")
        time.sleep(3)  # charts and images finish drawing after their text appears
        png = self.call("Page.captureScreenshot", format="png")["data"]
        out.write_bytes(base64.b64decode(png))
        print(f"ui_screenshots: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} <- {url}")

    def close(self) -> None:
        try:
            self._ws.close()
        finally:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=30)
            self._profile.cleanup()


def pick_pair(runs: list) -> list:
    """The two runs the compare view shows: the same verifier of the two newest nightlies (a
    team's morning question: what changed since last night), else the two newest runs."""
    nightly = [r for r in runs if r.data.tags.get("infscale.source") == "nightly"]
    if nightly:
        newest = nightly[0]
        key = (newest.data.tags.get("infscale.verifier"), newest.data.tags.get("infscale.dataset"))
        older = [r for r in nightly[1:] if r.data.tags.get("mlflow.parentRunId") != newest.data.tags.get(
            "mlflow.parentRunId") and (r.data.tags.get("infscale.verifier"), r.data.tags.get("infscale.dataset")) == key]
        if older:
            return [newest, older[0]]
    if len(runs) < 2:
        raise SystemExit("ui_screenshots: the compare view needs two runs in the experiment")
    return runs[:2]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=f"sqlite:///{ROOT / 'mlflow.db'}", help="MLflow tracking URI")
    ap.add_argument("--experiment", default="infscale")
    ap.add_argument("--out", type=Path, default=ROOT / "docs/img")
    args = ap.parse_args(argv)
    browser = next((b for b in BROWSERS if shutil.which(b)), None)
    if browser is None:
        raise SystemExit("ui_screenshots: no Chromium found (Debian: apt-get install -y chromium)")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    mc = MlflowClient(tracking_uri=args.store)
    exp = mc.get_experiment_by_name(args.experiment)
    if exp is None:
        raise SystemExit(f"ui_screenshots: no experiment '{args.experiment}' in {args.store}")
    runs = pick_pair(mc.search_runs([exp.experiment_id],
                                    filter_string="tags.`infscale.source` != 'nightly-parent'",
                                    order_by=["attributes.start_time DESC"], max_results=200))
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # its own process group: `mlflow ui` starts uvicorn workers that must stop with it
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", args.store,
                               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/health")
        eid, (a, b) = exp.experiment_id, (r.info.run_id for r in runs)
        name_a = runs[0].info.run_name
        compare = urllib.parse.quote(json.dumps([a, b]))
        chrome = Browser(browser)
        try:
            chrome.shoot(f"{base}/#/experiments/{eid}/runs", args.out / "mlflow_runs.png", expect=name_a[:20])
            chrome.shoot(f"{base}/#/compare-runs?runs={compare}&experiments={urllib.parse.quote(json.dumps([eid]))}",
                         args.out / "mlflow_compare.png", expect="Run details", size=(1600, 1400))
            chrome.shoot(f"{base}/#/experiments/{eid}/runs/{a}/model-metrics", args.out / "mlflow_run_charts.png",
                         expect="0_false_positives", size=(1600, 1400))
            chrome.shoot(f"{base}/#/experiments/{eid}/runs/{a}/artifacts/plots/pass_at_k_band.png",
                         args.out / "mlflow_run_plot.png", expect="plots/pass_at_k_band.png")
        finally:
            chrome.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
