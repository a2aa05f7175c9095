"""How fast the first screen of the console (and of the widget) shows, in Chromium.

Issue 13's target: the console's first screen (the sign-in form) under 1 s on a 2-core
machine. Starts its own embedded Redis and one `helpline serve` on a free loopback port,
then, in Debian's headless Chromium, loads each page `--rounds` times, each in a fresh
browser context (empty cache, as a counsellor's first visit of the day), alternating
pages, and reads the time of the largest contentful paint (the sign-in heading, the
widget's start text) from the page's own performance timeline: from the start of the
navigation to the frame that painted it, without Playwright's polling in it.

The baseline, measured the same way in the same run, is `/healthz`: a few bytes of text
from the same server, so the ratio is what the page itself costs on top of a request.

    .venv/bin/python bench/first_screen.py [--rounds 9] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import sys
import tempfile
from pathlib import Path

from encryption import ROOT, start_server, stop  # type: ignore[import-not-found]
from playwright.async_api import async_playwright

from helpline.embedded_redis import start_embedded_redis

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TARGET_MS = 1000
# What each page paints first, as Playwright finds it; then the LCP entry is read.
PAGES = {"baseline /healthz": ("/healthz", "body"),
         "console /console": ("/console", "h1, h2"),
         "widget /chat": ("/chat", "#start")}
LCP = """() => new Promise((resolve) => new PerformanceObserver((list) => {
  const entries = list.getEntries(); resolve(entries[entries.length - 1].startTime);
}).observe({ type: "largest-contentful-paint", buffered: true }))"""


async def measure(base: str, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for n in range(rounds + 1):  # the first round warms the server up: not counted
                for name, (path, first) in PAGES.items():
                    context = await browser.new_context(locale="en-GB",
                                                        viewport={"width": 1280, "height": 900})
                    page = await context.new_page()
                    await page.goto(base + path, wait_until="commit")
                    await page.locator(first).first.wait_for()
                    ms = float(await page.evaluate(LCP))
                    await context.close()
                    if n:
                        times[name].append(ms)
        finally:
            await browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="loads of each page [9]")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("Debian's chromium is needed at /usr/bin/chromium")
    with tempfile.TemporaryDirectory(prefix="helpline-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "data").mkdir()
        redis = start_embedded_redis(tmp)
        server = None
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
            env.update({"REDIS_URL": redis.url, "HELPLINE_DATA_DIR": str(tmp / "data"),
                        "HELPLINE_KEY_PREFIX": f"bench{secrets.token_hex(4)}:",
                        "HELPLINE_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            server = start_server(env, port, tmp / "server.log")
            times = asyncio.run(measure(f"http://127.0.0.1:{port}", args.rounds))
        finally:
            stop(server)
            redis.stop()
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    base = medians["baseline /healthz"]
    if args.json:
        print(json.dumps({"median_ms": medians, "runs_ms": times, "target_ms": TARGET_MS}))
        return
    print(f"first contentful screen, median of {args.rounds} cold loads on {os.cpu_count()} cores")
    for name, ms in medians.items():
        spread = f"{min(times[name]):.0f}-{max(times[name]):.0f}"
        print(f"  {name:<20} {ms:7.0f} ms  (runs {spread} ms)  {ms / base:5.1f}x baseline")
    console = medians["console /console"]
    verdict = "MET" if console < TARGET_MS else "NOT MET"
    print(f"target (console first screen under {TARGET_MS} ms): {verdict}")


if __name__ == "__main__":
    main()
