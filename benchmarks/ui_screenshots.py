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


def shoot(browser: str, url: str, out: Path, size: str = "1600,1000", wait_ms: int = 60000) -> None:
    """One full-window PNG of ``url``, taken ``wait_ms`` after loading starts (real time: with
    ``--virtual-time-budget`` the MLflow SPA's polling kept Chromium from ever finishing)."""
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={size}", f"--timeout={wait_ms}",
                    f"--screenshot={out}", url], check=True, capture_output=True, timeout=wait_ms / 1000 + 120)
    print(f"ui_screenshots: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} <- {url}")


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
    runs = mc.search_runs([exp.experiment_id], filter_string="tags.`infscale.source` != 'nightly-parent'",
                          order_by=["attributes.start_time DESC"], max_results=2)
    if len(runs) < 2:
        raise SystemExit("ui_screenshots: the compare view needs two runs in the experiment")
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
        compare = urllib.parse.quote(json.dumps([a, b]))
        shoot(browser, f"{base}/#/experiments/{eid}/runs", args.out / "mlflow_runs.png")
        shoot(browser, f"{base}/#/compare-runs?runs={compare}&experiments={urllib.parse.quote(json.dumps([eid]))}",
              args.out / "mlflow_compare.png", size="1600,1400")
        shoot(browser, f"{base}/#/experiments/{eid}/runs/{a}/model-metrics", args.out / "mlflow_run_charts.png",
              size="1600,1400")
        shoot(browser, f"{base}/#/experiments/{eid}/runs/{a}/artifacts/plots/pass_at_k_band.png",
              args.out / "mlflow_run_plot.png")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
