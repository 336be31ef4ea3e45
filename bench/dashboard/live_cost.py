#!/usr/bin/env python3
"""What one study page in view costs while it follows a fast study.

For each --bin-dir in turn (--rounds times, alternating): a fresh
vernier-server and `vernier dashboard`, one headless Chromium page (1400x1000,
as dashboard_bench.py) opened on a new study that asktell-bench grows by
~2,000 trials a second. From --after-s seconds after the page opened, for
--window-s seconds: CPU seconds per second of Chromium (every process), the
dashboard and vernier-server, the page's live refreshes (their count and the
intervals between them, from window.vernierTimings.refreshes), how often
each plot in view was drawn (its data-rendered count), and the trials ended
per second.

Usage: live_cost.py --bin-dir DIR_A [--bin-dir DIR_B ...] [--rounds 3]
Each DIR holds vernier, vernier-server and asktell-bench (ab.sh's layout);
prints one JSON line per run and a median table at the end.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_bench as bench  # noqa: E402  (the same processes and browser)


def finished(url, study):
    """The study's ended trials, as the dashboard's API counts them."""
    with urllib.request.urlopen(f"{url}api/study?study={study}", timeout=30) as response:
        return json.loads(response.read())["summary"]["finished"]


# How many times each plot has been drawn so far (data-rendered, app.js'
# markRendered), by plot name.
DRAWS_JS = """return Object.fromEntries(arguments[0].map(n => {
  const node = document.getElementById('plot-' + n);
  return [n, node ? Number(node.dataset.rendered) || 0 : 0];
}))"""


def measure(bin_dir, args):
    """One run's {"chromium", "dashboard", "server"} CPU-s per second,
    "refreshes", "intervals_ms", "draws" (by plot, those drawn) and ask/tell "window_trials_per_s" (in the
    window) and "trials_per_s" (the whole run)."""
    options = argparse.Namespace(bin_dir=os.path.abspath(bin_dir), asktell_trials=args.asktell_trials,
                                 asktell_clients=8, steady_after_s=10, db_cache=None)
    with tempfile.TemporaryDirectory(prefix="vernier-live-cost-") as work_dir:
        b = bench.Bench(options, work_dir)
        out = {}
        try:
            b.start_server(os.path.join(work_dir, "vernier.db"))
            _, url = b.start_dashboard("dashboard")
            b.page_urls = [url]
            driver = bench.new_browser(work_dir, "page")
            b.browsers.append(driver)
            driver.get(url + "#/")

            def follow(study, _started):
                driver.get(f"{url}#/study/{study}")
                time.sleep(args.after_s)
                finished_before = finished(url, study)
                cpu_before, page_before = bench.cpu_by_command(), driver.execute_script("return performance.now()")
                draws_before = driver.execute_script(DRAWS_JS, bench.PLOTS)
                started = time.monotonic()
                time.sleep(args.window_s)
                used = bench.cpu_diff(cpu_before, bench.cpu_by_command())
                draws_after = driver.execute_script(DRAWS_JS, bench.PLOTS)
                seconds = time.monotonic() - started
                out["window_trials_per_s"] = round((finished(url, study) - finished_before) / seconds)
                refreshes = [t for t in driver.execute_script("return window.vernierTimings.refreshes || []")
                             if t >= page_before]
                out.update({
                    "chromium": round(used.get("chromium", 0) / seconds, 3),
                    "dashboard": round(used.get("vernier", 0) / seconds, 3),
                    "server": round(used.get("vernier-server", 0) / seconds, 3),
                    "refreshes": len(refreshes),
                    "intervals_ms": [round(b - a) for a, b in zip(refreshes, refreshes[1:])],
                    "draws": {n: draws_after[n] - draws_before[n] for n in bench.PLOTS
                              if draws_after[n] > draws_before[n]},
                })

            # follow() runs while asktell-bench does (it runs on alone).
            result = b.asktell("live", follow)
            out["trials_per_s"] = round(result["trials_per_s"])
            out["seconds"] = round(result.get("seconds", 0), 1)
        finally:
            b.close()
    if out["seconds"] < args.after_s + args.window_s:
        raise RuntimeError(f"the ask/tell run ({out['seconds']} s) ended before the window did: "
                           "raise --asktell-trials")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after-s", type=float, default=8)
    parser.add_argument("--window-s", type=float, default=10)
    parser.add_argument("--asktell-trials", type=int, default=60000)
    args = parser.parse_args()
    runs = {d: [] for d in args.bin_dir}
    for _ in range(args.rounds):
        for d in args.bin_dir:
            runs[d].append(measure(d, args))
            print(json.dumps({"bin_dir": d, **runs[d][-1]}), flush=True)
    print("| bin dir | Chromium CPU-s/s | dashboard | vernier-server | refreshes in "
          f"{args.window_s:g} s | plots drawn (median count) | ask/tell trials/s in the window |")
    print("|---|---|---|---|---|---|---|")
    for d, results in runs.items():
        def median(key):
            return statistics.median(r[key] for r in results)
        names = sorted({n for r in results for n in r["draws"]}, key=bench.PLOTS.index)
        draws = ", ".join(f"{n} {statistics.median(r['draws'].get(n, 0) for r in results):g}" for n in names)
        print(f"| {d} | {median('chromium'):.3f} | {median('dashboard'):.3f} | {median('server'):.3f} | "
              f"{median('refreshes'):g} | {draws} | {median('window_trials_per_s'):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
