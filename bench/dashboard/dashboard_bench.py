#!/usr/bin/python3
"""The dashboard benchmark (not a test; bench/dashboard/run.sh runs it).

    dashboard_bench.py --bin-dir BUILD/bin [--trials 100000] [--steps 100]
                       [--runs 3] [--pages 10] [--dashboards 10]
                       [--asktell-trials 100000] [--asktell-clients 8]
                       [--window-after-s 30] [--window-s 10]
                       [--out DIR] [--db-cache FILE]

1. Writes a study of --trials trials with --steps intermediate values each
   (dashboard-seed, through the storage layer; --db-cache keeps the file for
   the next run) and starts vernier-server (--insecure, loopback) on it.
2. Time to a drawn study page: headless Chromium opens `vernier dashboard`'s
   #/study/big, --runs times (a fresh navigation each); a script installed
   before the page's own records performance.now() (milliseconds since
   navigation start) when every plot container has data-rendered >= 1, i.e.
   ECharts finished drawing all of them. Median and each run; the page's own
   timings (window.vernierTimings: fetch and draw per plot) beside them.
3. Memory: VmRSS and VmHWM (peak) of the dashboard process after those loads,
   and of vernier-server.
4. Ask/tell throughput with --pages browser pages open on --dashboards
   `vernier dashboard` processes vs none (the browsers on about:blank):
   asktell-bench (random sampler, --asktell-clients clients) on a new study
   each run, alternating none and open; the pages open on the study as soon
   as it exists (within ~0.5 s of the start), one after the other, each
   drawn (every plot's data-rendered >= 1) before the next opens (a tab
   drawn in front, then hidden by the next), and refresh on its events as a
   user's would. Median trials/s of each, and their ratio (the issue's goal:
   >= 95 %): over the whole runs, from --steady-after-s on, and in the
   window (the headline): the trials ended per second over --window-s
   seconds from --window-after-s after the start, or from once every page
   has drawn if that is later. The window is what keeping the pages open
   costs, at the same age of the study in both runs; ten pages of a study
   growing by ~2,000 trials a second took ~24 s to open one after the other,
   and when opened all at once their first loads ran on to ~15 s after the
   start, past the 10 s that "steady" assumed. Measured once per
   --browser-priorities entry (default "tabs,split"):
   - "normal": ten browsers, each page in view, on this machine's cores like
     the server;
   - "idle": the same under SCHED_IDLE (they get only the CPU nothing else
     wants);
   - "tabs": the pages as tabs of one browser at normal priority, the last in
     front (how one user keeps ten dashboards open; the hidden tabs wait);
   - "split": ten browsers, each page in view, with the dashboards and the
     browsers on half of the CPUs and vernier-server and the ask/tell
     clients on the other half, in every run: the nearest this machine comes
     to browsers on other hosts. A busy second half slows the first by
     itself, so each round also runs ask/tell with no pages and a spin loop
     on the pages' CPUs ("busy"): pages vs busy is what the pages and their
     dashboards' calls cost the server beyond that.
   The calls the dashboards made of vernier-server meanwhile (its
   vernier_rpcs_total counters, per second) say how much work the pages
   asked for.

Prints a Markdown report and writes it with the raw numbers (JSON) to --out.
Every process is stopped at the end; every wait has a timeout.
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# True when every plot of the study page in view has drawn once.
ALL_DRAWN_JS = """return location.hash.startsWith('#/study/') && arguments[0].every((n) => {
  const e = document.getElementById('plot-' + n);
  return e && Number(e.dataset.rendered) >= 1;
})"""

# The StudyService methods `vernier dashboard` calls.
DASHBOARD_METHODS = {"ListStudies", "GetStudy", "GetStudySummary", "ListTrials", "GetTrial",
                     "WatchStudy"}

PLOTS = ["history", "curves", "parallel", "slice", "contour", "importance", "pareto",
         "timeline", "lineage"]

# Runs in the page before its scripts: notes when every plot has rendered.
DRAWN_PROBE = """
(() => {
  const plots = %s;
  window.__vernierDrawnAt = {};
  const timer = setInterval(() => {
    if (!location.hash.startsWith('#/study/')) return;
    const at = window.__vernierDrawnAt;
    for (const n of plots) {
      const e = document.getElementById('plot-' + n);
      if (!(n in at) && e && Number(e.dataset.rendered) >= 1) at[n] = Math.round(performance.now());
    }
    if (plots.every((n) => n in at)) { window.__vernierDrawn = performance.now(); clearInterval(timer); }
  }, 5);
})();
""" % json.dumps(PLOTS)


class Processes:
    """Child processes, each in its own group; stop_all ends them."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.started = []

    def start(self, name, argv, capture_stdout=False):
        log = open(os.path.join(self.work_dir, f"{name}.log"), "wb")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE if capture_stdout else log, stderr=log,
                                   cwd=self.work_dir, start_new_session=True)
        log.close()
        self.started.append(process)
        return process

    def stop(self, process):
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def stop_all(self):
        for process in reversed(self.started):
            self.stop(process)


def wait_until(what, predicate, timeout_s, interval_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")


def read_line(stream, timeout_s):
    result = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not result:
        raise RuntimeError(f"no line within {timeout_s} s")
    return result[0].decode(errors="replace")


def memory_kib(pid):
    """{"rss": VmRSS, "peak": VmHWM} of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss"] = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                out["peak"] = int(line.split()[1])
    return out


def cpu_by_command():
    """CPU seconds (user + system) used so far by each command name, over
    every process on the machine: diffs of two calls say who used the CPU
    in between."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def cpu_diff(before, after):
    """The commands that used at least 0.1 CPU seconds between two
    cpu_by_command() calls, most first."""
    used = {name: round(after[name] - before.get(name, 0), 1) for name in after}
    return dict(sorted(((n, v) for n, v in used.items() if v >= 0.1), key=lambda kv: -kv[1]))


def split_cpus():
    """({server CPUs}, {page CPUs}) of the "split" setup: the first half of
    this process's CPUs for vernier-server and the ask/tell clients, the
    rest for the dashboards and the browsers."""
    cpus = sorted(os.sched_getaffinity(0))
    half = max(1, len(cpus) // 2)
    return set(cpus[:half]), set(cpus[half:]) or set(cpus)


def pin(pid, cpus):
    """Every thread of process `pid` onto `cpus` (threads it starts later
    inherit it from the thread that starts them)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # The thread has ended.
            pass


def timed_get(url, timeout_s=300):
    """(status, bytes, seconds) of a GET."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, len(response.read()), time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, len(e.read()), time.monotonic() - started


def self_time_by_function(profile):
    """[(function, ms)] of a CDP CPU profile, most self time first."""
    names = {}
    for node in profile["nodes"]:
        frame = node["callFrame"]
        where = os.path.basename(frame.get("url", "")) or "-"
        names[node["id"]] = f"{frame.get('functionName') or '(anonymous)'} {where}:{frame.get('lineNumber', 0) + 1}"
    totals = {}
    for node_id, delta_us in zip(profile.get("samples", []), profile.get("timeDeltas", [])):
        totals[names[node_id]] = totals.get(names[node_id], 0) + delta_us / 1000
    return sorted(((name, round(ms, 1)) for name, ms in totals.items()), key=lambda kv: -kv[1])


def new_browser(work_dir, name, idle=False, cpus=None):
    """Headless Chromium; `idle`: every process of it under SCHED_IDLE (it
    runs only when nothing else on the machine wants the CPU); `cpus`: every
    process of it (and its chromedriver) on those CPUs only."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    if idle or cpus:
        launcher = "chrt --idle 0 " if idle else ""
        if cpus:
            launcher += f"taskset -c {','.join(map(str, sorted(cpus)))} "
        wrapper = os.path.join(work_dir, f"launch-chromium-{name}")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nexec {launcher}/usr/bin/chromium "$@"\n')
        os.chmod(wrapper, 0o755)
        options.binary_location = wrapper
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run",
                f"--user-data-dir={os.path.join(work_dir, 'chromium-' + name)}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(120)
    if cpus:
        pin(driver.service.process.pid, cpus)
    return driver


class Bench:
    def __init__(self, args, work_dir):
        self.args = args
        self.work_dir = work_dir
        self.processes = Processes(work_dir)
        self.browsers = []
        self.results = {"config": {k: v for k, v in vars(args).items() if k != "bin_dir"}}
        self.asktell_cpus = None  # The "split" setup's CPUs for asktell-bench.

    def bin(self, name):
        return os.path.join(self.args.bin_dir, name)

    def seed(self):
        db = os.path.join(self.work_dir, "vernier.db")
        cache = self.args.db_cache
        if cache and os.path.exists(cache):
            shutil.copyfile(cache, db)
            print(f"seed: copied {cache}", flush=True)
            self.results["seed"] = {"cached": cache}
            return db
        done = subprocess.run([self.bin("dashboard-seed"), "--db", db, "--study", "big",
                               "--trials", str(self.args.trials), "--steps", str(self.args.steps)],
                              capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise RuntimeError(f"dashboard-seed failed: {done.stderr}")
        self.results["seed"] = json.loads(done.stdout)
        print(f"seed: {done.stdout.strip()}", flush=True)
        if cache:
            shutil.copyfile(db, cache)
        return db

    def start_server(self, db):
        port_file = os.path.join(self.work_dir, "server.port")
        self.metrics_port_file = os.path.join(self.work_dir, "metrics.port")
        self.server = self.processes.start("vernier-server", [
            self.bin("vernier-server"), "--db", db, "--listen", "127.0.0.1:0",
            "--port-file", port_file, "--insecure",
            # Its RPC counters say how much the dashboards asked of it.
            "--metrics-listen", "127.0.0.1:0", "--metrics-port-file", self.metrics_port_file,
            # The page loads measure a study whose trials are held (at rest),
            # as before unloading existed; loading an unloaded study's trials
            # back is measured by bench/memory (the `rest` start-up).
            "--unload-resting-after", "3600"])

        def port():
            if self.server.poll() is not None:
                raise RuntimeError(f"vernier-server exited {self.server.returncode}")
            try:
                with open(port_file) as f:
                    return int(f.read().strip() or 0)
            except (OSError, ValueError):
                return 0
        started = time.monotonic()
        self.address = f"127.0.0.1:{wait_until('vernier-server', port, 600, 0.2)}"
        self.results["server_start_s"] = round(time.monotonic() - started, 2)

    def start_dashboard(self, name):
        process = self.processes.start(name, [
            self.bin("vernier"), "--server", self.address, "dashboard", "--listen", "127.0.0.1:0"],
            capture_stdout=True)
        line = read_line(process.stdout, 60)
        prefix = "vernier dashboard: serving "
        if not line.startswith(prefix):
            raise RuntimeError(f"{name}: unexpected first line {line!r}")
        return process, line[len(prefix):].strip()

    def api_timings(self, base):
        """Each endpoint's answer for the big study, once, from Python."""
        out = {}
        for path in ("/api/study?study=big", "/api/trials?study=big", "/api/curves?study=big",
                     "/api/importance?study=big"):
            status, size, seconds = timed_get(base.rstrip("/") + path)
            out[path] = {"status": status, "bytes": size, "s": round(seconds, 3)}
        return out

    def time_to_drawn(self):
        dashboard, url = self.start_dashboard("dashboard-main")
        self.results["api"] = self.api_timings(url)
        driver = new_browser(self.work_dir, "main")
        self.browsers.append(driver)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DRAWN_PROBE})
        runs = []
        for run in range(self.args.runs):
            driver.get("about:blank")
            if self.args.profile and run == 0:
                driver.execute_cdp_cmd("Profiler.enable", {})
                driver.execute_cdp_cmd("Profiler.setSamplingInterval", {"interval": 1000})
                driver.execute_cdp_cmd("Profiler.start", {})
            driver.get(url + "#/study/big")
            drawn = wait_until("the study page to draw",
                               lambda: driver.execute_script("return window.__vernierDrawn"), 300, 0.1)
            if self.args.profile and run == 0:
                profile = driver.execute_cdp_cmd("Profiler.stop", {})["profile"]
                json.dump(profile, open("/tmp/page-profile.json", "w"))
                self.results["profile_ms"] = self_time_by_function(profile)
                print("page main thread, self time by function (ms):", flush=True)
                for name, ms in self.results["profile_ms"][:25]:
                    print(f"  {ms:8.1f}  {name}", flush=True)
            points = driver.execute_script(
                "return Object.fromEntries(arguments[0].map(n => [n, Number(document.getElementById('plot-' + n).dataset.points)]))",
                PLOTS)
            timings = driver.execute_script("return window.vernierTimings || {}")
            # Each fetch: when it was asked, its first byte and its last (ms
            # after navigation start); and when the scripts had run.
            timings["resources"] = driver.execute_script(
                "return performance.getEntriesByType('resource').map(r => [r.name.replace(location.origin, ''), "
                "Math.round(r.startTime), Math.round(r.responseStart), Math.round(r.responseEnd)])")
            # When each plot was first drawn (ms after navigation start):
            # which one the page waited for.
            timings["plot_drawn_at"] = driver.execute_script("return window.__vernierDrawnAt")
            timings["dom_content_loaded"] = driver.execute_script(
                "return Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd)")
            runs.append({"drawn_ms": round(drawn), "points": points, "page_timings_ms": timings})
            print(f"run {run + 1}: drawn after {drawn:.0f} ms; resources {timings['resources']}; plots {timings['plot_drawn_at']}; steps { {k: v for k, v in timings.items() if not isinstance(v, (list, dict))} }", flush=True)
        self.results["drawn"] = {"median_ms": statistics.median(r["drawn_ms"] for r in runs), "runs": runs}
        self.results["memory_kib"] = {"dashboard": memory_kib(dashboard.pid),
                                      "vernier-server": memory_kib(self.server.pid)}
        self.processes.stop(dashboard)
        driver.quit()
        self.browsers.remove(driver)

    def asktell(self, study, on_created=None):
        """asktell-bench's JSON line for a new study; on_created(study,
        started) runs (in this thread) as soon as the study exists; started:
        the run's start (time.monotonic())."""
        started = time.monotonic()
        bench = subprocess.Popen([
            self.bin("asktell-bench"), "--server", self.address, "--study", study,
            "--sampler", "random", "--trials", str(self.args.asktell_trials),
            "--clients", str(self.args.asktell_clients), "--threads", "2",
            "--steady-after-s", str(self.args.steady_after_s)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, self.asktell_cpus)) if self.asktell_cpus else None)
        try:
            if on_created:
                wait_until(f"study {study}", lambda: bench.poll() is not None or self.study_exists(study), 60)
                on_created(study, started)
            out, err = bench.communicate(timeout=1800)
        finally:
            if bench.poll() is None:
                bench.kill()
                bench.wait(timeout=15)
        if bench.returncode != 0:
            raise RuntimeError(f"asktell-bench failed ({bench.returncode}): {err}")
        return json.loads(out.strip().splitlines()[-1])

    def finished(self, study):
        """The trials of `study` that have ended, as the dashboard's summary
        counts them."""
        with urllib.request.urlopen(f"{self.page_urls[0]}api/study?study={study}", timeout=30) as r:
            return json.loads(r.read())["summary"]["finished"]

    def window_rate(self, study, started):
        """{"trials_per_s", "from_s"}: the trials of `study` ended per second
        over --window-s seconds from --window-after-s after `started` (its
        ask/tell run's start), or from a second from now if that is later."""
        begin = max(started + self.args.window_after_s, time.monotonic() + 1)
        time.sleep(begin - time.monotonic())
        count, at = self.finished(study), time.monotonic()
        time.sleep(self.args.window_s)
        count_end, at_end = self.finished(study), time.monotonic()
        return {"trials_per_s": (count_end - count) / (at_end - at), "from_s": round(at - started, 1)}

    def asktell_in_window(self, study, before_window=None):
        """asktell(study) and its window_rate(), with before_window(study)
        (opening the pages) run first; RuntimeError if the ask/tell run ended
        before the window did (raise --asktell-trials)."""
        window = {}

        def on_created(study, started):
            if before_window:
                before_window(study)
            window.update(self.window_rate(study, started))
        result = self.asktell(study, on_created)
        if result.get("seconds", 0) < window["from_s"] + self.args.window_s:
            raise RuntimeError(f"the ask/tell run ({result.get('seconds')} s) ended before the window "
                               f"({window['from_s']} s + {self.args.window_s} s): raise --asktell-trials")
        result["window"] = window
        return result

    def study_exists(self, study):
        status, _, _ = timed_get(f"{self.page_urls[0]}api/study?study={study}", 10)
        return status == 200

    def dashboard_rpcs(self):
        """vernier_rpcs_total of the methods a dashboard calls, summed over
        status codes, from vernier-server's /metrics."""
        with open(self.metrics_port_file) as f:
            port = int(f.read().strip())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
            text = response.read().decode()
        counts = {}
        for line in text.splitlines():
            match = re.match(r'vernier_rpcs_total\{(.*)\} ([0-9.e+]+)$', line)
            method = match and re.search(r'method="([^"]+)"', match.group(1))
            if method and method.group(1) in DASHBOARD_METHODS:
                counts[method.group(1)] = counts.get(method.group(1), 0) + float(match.group(2))
        return counts

    def throughput(self):
        dashboards = [self.start_dashboard(f"dashboard-{i}") for i in range(self.args.dashboards)]
        self.page_urls = [url for _, url in dashboards]
        self.results["asktell"] = {}
        for priority in self.args.browser_priorities.split(","):
            if priority == "split":
                self.results["asktell"][priority] = self.split_throughput([p for p, _ in dashboards])
            else:
                self.results["asktell"][priority] = self.throughput_with(priority)
        self.results["asktell_memory_kib_dashboards"] = [memory_kib(p.pid) for p, _ in dashboards]

    def split_throughput(self, dashboards):
        """throughput_with("split"): vernier-server and the ask/tell clients
        on split_cpus()[0], the dashboards, the browsers and this script on
        [1], in every run; every CPU for all of them again after."""
        server_cpus, page_cpus = split_cpus()
        every_cpu = os.sched_getaffinity(0)
        pin(self.server.pid, server_cpus)
        for process in dashboards:
            pin(process.pid, page_cpus)
        os.sched_setaffinity(0, page_cpus)
        self.asktell_cpus = server_cpus
        try:
            result = self.throughput_with("split", page_cpus, busy_control=True)
        finally:
            self.asktell_cpus = None
            os.sched_setaffinity(0, every_cpu)
            for pid in [self.server.pid] + [p.pid for p in dashboards]:
                pin(pid, every_cpu)
        result["cpus"] = {"server_and_asktell": sorted(server_cpus), "dashboards_and_browsers": sorted(page_cpus)}
        return result

    def page_browsers(self, priority, cpus=None):
        """[(driver, window handle, dashboard URL)] of --pages pages: each in
        its own browser at `priority` ("normal" or "split", or "idle":
        SCHED_IDLE) on `cpus` (None: any), or, for "tabs", as tabs of one
        browser at normal priority."""
        pages = []
        urls = [self.page_urls[i % len(self.page_urls)] for i in range(self.args.pages)]
        if priority == "tabs":
            driver = new_browser(self.work_dir, "page-tabs")
            self.browsers.append(driver)
            for i, url in enumerate(urls):
                if i:
                    driver.switch_to.new_window("tab")
                pages.append((driver, driver.current_window_handle, url))
        else:
            for i, url in enumerate(urls):
                driver = new_browser(self.work_dir, f"page-{priority}-{i}", idle=priority == "idle",
                                     cpus=cpus)
                self.browsers.append(driver)
                pages.append((driver, driver.current_window_handle, url))
        return pages

    def throughput_with(self, priority, cpus=None, busy_control=False):
        """Ask/tell runs alternating no pages and --pages pages (see
        page_browsers; tabs end with the last in front); `busy_control`: a
        third run in each round, no pages and a spin loop on `cpus`."""
        pages = self.page_browsers(priority, cpus)

        def show(target):
            for driver, handle, url in pages:
                driver.switch_to.window(handle)
                driver.get(target(url))

        opening_s = []

        # One after the other, each drawn before the next opens.
        def open_pages(study):
            started = time.monotonic()
            for driver, handle, url in pages:
                driver.switch_to.window(handle)
                driver.get(f"{url}#/study/{study}")
                wait_until("the study page to draw", lambda: driver.execute_script(ALL_DRAWN_JS, PLOTS), 300, 0.1)
            opening_s.append(round(time.monotonic() - started, 2))

        show(lambda url: url + "#/")

        none, opened, rpcs = [], [], []
        steady_none, steady_open, steady_busy = [], [], []
        window_none, window_open, window_busy, window_from = [], [], [], []
        cpu = {}
        for run in range(self.args.runs):
            # No dashboard page open: the browsers show a blank page.
            show(lambda url: "about:blank")
            before = cpu_by_command()
            result = self.asktell_in_window(f"tput-none-{priority}-{run}")
            cpu["none"] = cpu_diff(before, cpu_by_command())
            none.append(result["trials_per_s"])
            steady_none.append(result["steady_trials_per_s"])
            window_none.append(result["window"]["trials_per_s"])
            print(f"ask/tell, no pages open: {result['trials_per_s']:.1f} trials/s, "
                  f"{result['steady_trials_per_s']:.1f} after {self.args.steady_after_s} s, "
                  f"{result['window']['trials_per_s']:.1f} in the window from {result['window']['from_s']} s",
                  flush=True)
            if busy_control:
                before = cpu_by_command()
                steady, window = self.asktell_beside_spin(f"tput-busy-{priority}-{run}", cpus)
                steady_busy.append(steady)
                window_busy.append(window)
                cpu["busy"] = cpu_diff(before, cpu_by_command())
            # The pages first show the studies list (no study events).
            show(lambda url: url + "#/")
            before = cpu_by_command()
            rpcs_before = self.dashboard_rpcs()
            started = time.monotonic()
            result = self.asktell_in_window(f"tput-open-{priority}-{run}", open_pages)
            seconds = time.monotonic() - started
            rpcs_after = self.dashboard_rpcs()
            cpu["open"] = cpu_diff(before, cpu_by_command())
            opened.append(result["trials_per_s"])
            steady_open.append(result["steady_trials_per_s"])
            window_open.append(result["window"]["trials_per_s"])
            window_from.append(result["window"]["from_s"])
            rpcs.append({m: round((rpcs_after.get(m, 0) - rpcs_before.get(m, 0)) / seconds, 1)
                         for m in sorted(rpcs_after)})
            print(f"ask/tell, {len(pages)} pages ({priority} browsers) open: "
                  f"{result['trials_per_s']:.1f} trials/s, {result['steady_trials_per_s']:.1f} after "
                  f"{self.args.steady_after_s} s, {result['window']['trials_per_s']:.1f} in the window from "
                  f"{result['window']['from_s']} s (opening the pages took {opening_s[-1]} s); "
                  f"dashboard RPCs/s {rpcs[-1]}", flush=True)
        for driver in {driver for driver, _, _ in pages}:
            driver.quit()
            self.browsers.remove(driver)
        summary = {
            "none_trials_per_s": none, "open_trials_per_s": opened,
            "median_none": statistics.median(none), "median_open": statistics.median(opened),
            "ratio": statistics.median(opened) / statistics.median(none),
            # The same from --steady-after-s seconds on: the pages open and
            # following the study, what a user who keeps them open costs.
            "steady_none_trials_per_s": steady_none, "steady_open_trials_per_s": steady_open,
            "steady_ratio": statistics.median(steady_open) / statistics.median(steady_none),
            # Each run's ratio to the run without pages just before it.
            "steady_pair_ratios": [round(o / n, 3) for n, o in zip(steady_none, steady_open)],
            # The same in the window (window_rate), once every page has drawn.
            "window_none_trials_per_s": window_none, "window_open_trials_per_s": window_open,
            "window_open_from_s": window_from,
            "window_ratio": statistics.median(window_open) / statistics.median(window_none),
            "window_pair_ratios": [round(o / n, 3) for n, o in zip(window_none, window_open)],
            "opening_pages_s": opening_s,
            # Calls per second the dashboards made of vernier-server while
            # the pages were open, by method.
            "dashboard_rpcs_per_s": rpcs,
            # CPU seconds by command during the last run of each kind.
            "cpu_s_last_run": cpu,
        }
        if busy_control:
            summary["steady_busy_trials_per_s"] = steady_busy
            summary["steady_ratio_to_busy"] = statistics.median(steady_open) / statistics.median(steady_busy)
            summary["steady_pair_ratios_to_busy"] = [round(o / b, 3) for b, o in zip(steady_busy, steady_open)]
            summary["window_busy_trials_per_s"] = window_busy
            summary["window_ratio_to_busy"] = statistics.median(window_open) / statistics.median(window_busy)
            summary["window_pair_ratios_to_busy"] = [round(o / b, 3) for b, o in zip(window_busy, window_open)]
        return summary

    def asktell_beside_spin(self, study, cpus):
        """(steady, window) trials/s of an ask/tell run with no pages and one
        process spinning on `cpus` meanwhile."""
        spin = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        try:
            result = self.asktell_in_window(study)
        finally:
            spin.kill()
            spin.wait(timeout=15)
        print(f"ask/tell, no pages open, a spin loop on CPUs {sorted(cpus)}: "
              f"{result['steady_trials_per_s']:.1f} trials/s after {self.args.steady_after_s} s, "
              f"{result['window']['trials_per_s']:.1f} in the window", flush=True)
        return result["steady_trials_per_s"], result["window"]["trials_per_s"]

    def close(self):
        for driver in self.browsers:
            try:
                driver.quit()
            except Exception:  # Already gone: nothing to keep.
                pass
        self.processes.stop_all()


def report(results):
    drawn = results["drawn"]
    memory = results["memory_kib"]
    lines = [
        f"# Dashboard benchmark ({results['config']['trials']} trials x {results['config']['steps']} steps)",
        "",
        f"- machine: {results['machine']}",
        f"- seeding: {json.dumps(results['seed'])}; vernier-server start: {results['server_start_s']} s",
        f"- time to a drawn study page (navigation start -> every plot's data-rendered >= 1), headless "
        f"Chromium: median {drawn['median_ms']:.0f} ms of {[r['drawn_ms'] for r in drawn['runs']]} (goal < 2000 ms)",
        f"- points drawn: {json.dumps(drawn['runs'][-1]['points'])}",
        f"- the page's own timings of the last run (ms): {json.dumps(drawn['runs'][-1]['page_timings_ms'])}",
        "- API answers (one GET each): " + "; ".join(
            f"{path} {a['status']} {a['bytes'] / 1e6:.1f} MB in {a['s']} s" for path, a in results["api"].items()),
        f"- dashboard process memory after the loads: RSS {memory['dashboard']['rss'] / 1024:.0f} MiB, "
        f"peak {memory['dashboard']['peak'] / 1024:.0f} MiB (vernier-server RSS "
        f"{memory['vernier-server']['rss'] / 1024:.0f} MiB)",
    ]
    if "asktell" in results:
        lines += asktell_report(results)
    if "profile_ms" in results:
        lines.append("- the page's main thread during the first load, self time by function (ms): " +
                     "; ".join(f"{name} {ms}" for name, ms in results["profile_ms"][:15]))
    return "\n".join(lines) + "\n"


def rounded(values):
    return [round(v) for v in values]


def asktell_report(results):
    lines = []
    for priority, asktell in results["asktell"].items():
        lines += [
            f"- ask/tell throughput (asktell-bench, {results['config']['asktell_trials']} trials, "
            f"{results['config']['asktell_clients']} clients), page browsers {priority}: none open "
            f"{rounded(asktell['none_trials_per_s'])} trials/s, {results['config']['pages']} pages on "
            f"{results['config']['dashboards']} dashboards open {rounded(asktell['open_trials_per_s'])} trials/s; "
            f"median ratio {asktell['ratio'] * 100:.1f} % over the whole runs, "
            f"{asktell['steady_ratio'] * 100:.1f} % from {results['config']['steady_after_s']} s on "
            f"({rounded(asktell['steady_none_trials_per_s'])} vs {rounded(asktell['steady_open_trials_per_s'])}), "
            f"**{asktell['window_ratio'] * 100:.1f} %** in a {results['config']['window_s']:g} s window once "
            f"every page had drawn ({rounded(asktell['window_none_trials_per_s'])} vs "
            f"{rounded(asktell['window_open_trials_per_s'])}; each round {asktell['window_pair_ratios']}; "
            f"windows from {asktell['window_open_from_s']} s; opening the pages took "
            f"{asktell['opening_pages_s']} s) (goal >= 95 %); dashboard RPCs/s "
            f"to vernier-server per run: {json.dumps(asktell['dashboard_rpcs_per_s'])}",
            *([f"  - with a spin loop on the pages' CPUs instead of pages (no pages open): "
               f"{rounded(asktell['window_busy_trials_per_s'])} trials/s in the window; pages vs spin loop "
               f"**{asktell['window_ratio_to_busy'] * 100:.1f} %** (each round: "
               f"{asktell['window_pair_ratios_to_busy']}); from {results['config']['steady_after_s']} s on: "
               f"{asktell['steady_ratio_to_busy'] * 100:.1f} % (each round {asktell['steady_pair_ratios_to_busy']}), "
               f"pages vs none each round: {asktell['steady_pair_ratios']}"]
              if "steady_busy_trials_per_s" in asktell else []),
            f"  - CPU seconds by command during the last run without pages: "
            f"{json.dumps(asktell['cpu_s_last_run'].get('none'))}; with pages: "
            f"{json.dumps(asktell['cpu_s_last_run'].get('open'))}"
            + (f"; with the spin loop: {json.dumps(asktell['cpu_s_last_run']['busy'])}"
               if "busy" in asktell["cpu_s_last_run"] else ""),
        ]
    return lines


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores, {model}, load average before {os.getloadavg()[0]:.2f}, "
            f"{chromium}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--trials", type=int, default=100000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--dashboards", type=int, default=10)
    # Long enough for the window after the pages have opened (~40 s at
    # ~2,500 trials a second).
    parser.add_argument("--asktell-trials", type=int, default=100000)
    parser.add_argument("--steady-after-s", type=float, default=10,
                        help="the steady ratio counts the trials told from this many seconds after "
                             "each run's start on (the pages have opened and follow the study)")
    parser.add_argument("--asktell-clients", type=int, default=8)
    parser.add_argument("--window-after-s", type=float, default=30,
                        help="the window's ratio counts the trials ended from this many seconds after "
                             "each ask/tell run's start (later if the pages took longer to draw)")
    parser.add_argument("--window-s", type=float, default=10, help="the window's length")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--db-cache", help="reuse (or keep) the seeded database at this path")
    parser.add_argument("--profile", action="store_true",
                        help="profile the page's main thread during the first load (CDP Profiler)")
    parser.add_argument("--browser-priorities", default="tabs,split",
                        help="the page browsers' priorities to measure throughput with, in turn: normal "
                             "(on this machine's cores like the server), idle (SCHED_IDLE: standing "
                             "for browsers on the users' own machines), tabs (one browser, the "
                             "pages as its tabs, the last in front) and/or split (ten browsers, the "
                             "dashboards and the browsers on half the CPUs, vernier-server and the "
                             "ask/tell clients on the other half)")
    parser.add_argument("--skip-throughput", action="store_true",
                        help="only the page load (and memory); no ask/tell runs")
    args = parser.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)  # The children run in the work directory.
    with tempfile.TemporaryDirectory(prefix="vernier-dashboard-bench-") as work_dir:
        bench = Bench(args, work_dir)
        bench.results["machine"] = machine()
        try:
            bench.start_server(bench.seed())
            bench.time_to_drawn()
            if not args.skip_throughput:
                bench.throughput()
        finally:
            bench.close()
    text = report(bench.results)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "raw.json"), "w") as f:
        json.dump(bench.results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
