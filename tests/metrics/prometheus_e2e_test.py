#!/usr/bin/python3
"""End to end: a real Prometheus scrapes a real vernier-server and
vernier-worker, and what it stored is read back through its query API.

    prometheus_e2e_test.py --bin-dir DIR [--prometheus /usr/bin/prometheus]

Starts vernier-server (--metrics-listen 127.0.0.1:0) and one vernier-worker
(--metrics-listen 127.0.0.1:0, two CPU slots) in a temporary directory, runs
two small studies: one asked and told through the `vernier` CLI, one run by
the worker with a tiny Python trial program; then starts Prometheus (scrape
interval 1 s) on both metrics ports and polls /api/v1/query until every
expected value is there, or fails after a timeout naming what differs.

Every process is stopped at the end, whatever happens; every wait has a
timeout. Exit status: 0 passed, 1 failed, 77 skipped (no Prometheus: CTest's
SKIP_RETURN_CODE).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request

SKIPPED = 77
STARTUP_TIMEOUT_S = 30
STUDY_TIMEOUT_S = 90
QUERY_TIMEOUT_S = 60

ASKED_STUDY = textwrap.dedent("""\
    name: asked
    objective: {metric: loss, goal: minimize}
    params:
      x: {type: float, low: -2, high: 2}
    sampler: {type: random}
    budget: {max_trials: 10}
    trainer: {external: true}
    """)

# One report per trial: the loss, as a function of x.
TRIAL_PROGRAM = textwrap.dedent("""\
    import json, os
    params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
    report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
    loss = (params["x"] - 0.5) ** 2
    print(json.dumps({"step": 1, "metrics": {"loss": loss}}), file=report)
    print(json.dumps({"final": True, "metrics": {"loss": loss}}), file=report)
    """)

WORKED_TRIALS = 4


def worked_study(trial_program):
    return textwrap.dedent(f"""\
        name: worked
        objective: {{metric: loss, goal: minimize}}
        params:
          x: {{type: float, low: -2, high: 2}}
        sampler: {{type: random}}
        budget: {{max_trials: {WORKED_TRIALS}, parallel: 2}}
        trainer: {{command: ["{sys.executable}", "{trial_program}"], time_limit: 60}}
        """)


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout_s, interval_s=0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise Failure(f"timed out after {timeout_s} s waiting for {what}")


class Processes:
    """The child processes of the test, each in its own process group (so a
    worker's trial processes go with it), and their logs."""

    def __init__(self, work_dir):
        self.work_dir = work_dir
        self.started = []  # (name, Popen, log path)

    def start(self, name, argv):
        log_path = os.path.join(self.work_dir, f"{name}.log")
        log = open(log_path, "wb")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=self.work_dir,
                                   start_new_session=True)
        log.close()
        self.started.append((name, process, log_path))
        return process

    def check_alive(self, process, name):
        if process.poll() is not None:
            raise Failure(f"{name} exited with status {process.returncode}")

    def stop_all(self):
        """SIGTERM to each group, then SIGKILL after 10 s; last started
        first (the worker before the server)."""
        for name, process, _ in reversed(self.started):
            if process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass

    def print_logs(self):
        for name, _, log_path in self.started:
            with open(log_path, errors="replace") as f:
                tail = f.read()[-3000:]
            print(f"---- {name} ({log_path}), last lines ----\n{tail}", file=sys.stderr)


def read_port_file(path, process, name, processes):
    def ready():
        processes.check_alive(process, name)
        if not os.path.exists(path):
            return None
        text = open(path).read().strip()
        return int(text) if text else None
    return wait_until(f"{name} to write {path}", ready, STARTUP_TIMEOUT_S)


def run_cli(cli, server, *args):
    """Runs `vernier --server SERVER ARGS`; returns (status, out, err)."""
    result = subprocess.run([cli, "--server", server, *args], capture_output=True,
                            text=True, timeout=30)
    return result.returncode, result.stdout, result.stderr


def cli_ok(cli, server, *args):
    status, out, err = run_cli(cli, server, *args)
    if status != 0:
        raise Failure(f"vernier {' '.join(args)} exited {status}: {err.strip()}")
    return out


def run_studies(cli, server, work_dir, trial_program):
    """The asked study: 3 asks, told COMPLETE, COMPLETE, FAILED, and one
    tell of an unknown trial (NOT_FOUND). The worked study: run by the worker
    to its end. Returns when both are done."""
    asked_file = os.path.join(work_dir, "asked.yaml")
    worked_file = os.path.join(work_dir, "worked.yaml")
    with open(asked_file, "w") as f:
        f.write(ASKED_STUDY)
    with open(worked_file, "w") as f:
        f.write(worked_study(trial_program))
    cli_ok(cli, server, "study", "create", "-f", asked_file)
    cli_ok(cli, server, "study", "create", "-f", worked_file)
    for expected in range(3):
        asked = json.loads(cli_ok(cli, server, "ask", "asked"))
        if asked["trial"] != expected:
            raise Failure(f"ask gave trial {asked['trial']}, expected {expected}")
    cli_ok(cli, server, "tell", "asked", "0", "--value", "0.25")
    cli_ok(cli, server, "tell", "asked", "1", "--value", "0.75")
    cli_ok(cli, server, "tell", "asked", "2", "--state", "failed", "--reason", "test")
    status, _, err = run_cli(cli, server, "tell", "asked", "99", "--value", "1")
    if status != 1 or "not found" not in err:
        raise Failure(f"tell of an unknown trial: status {status}, {err.strip()}")

    def worked_ended():
        out = cli_ok(cli, server, "--format", "json", "study", "show", "worked")
        return json.loads(out).get("state") not in (None, "ACTIVE")
    wait_until("the worker to finish study 'worked'", worked_ended, STUDY_TIMEOUT_S, 0.5)


def write_prometheus_config(path, server_metrics_port, worker_metrics_port):
    with open(path, "w") as f:
        f.write(textwrap.dedent(f"""\
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: vernier-server
                static_configs:
                  - targets: ["127.0.0.1:{server_metrics_port}"]
              - job_name: vernier-worker
                static_configs:
                  - targets: ["127.0.0.1:{worker_metrics_port}"]
            """))


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
        return None, str(e)


def query(prometheus_url, expr):
    """The value of the instant query `expr` (a single series), or None."""
    status, body = http_get(f"{prometheus_url}/api/v1/query?" +
                            urllib.parse.urlencode({"query": expr}))
    if status != 200:
        return None
    data = json.loads(body)
    if data.get("status") != "success":
        raise Failure(f"query {expr}: {body}")
    result = data["data"]["result"]
    if len(result) > 1:
        raise Failure(f"query {expr} has {len(result)} series, expected one: {result}")
    return float(result[0]["value"][1]) if result else None


def expected_values():
    study = 'service="vernier.v1.StudyService"'
    return {
        # The server: trials by study and state, as the test made them.
        'vernier_trials{study="asked",state="COMPLETE"}': 2,
        'vernier_trials{study="asked",state="FAILED"}': 1,
        'vernier_trials{study="asked",state="RUNNING"}': 0,
        f'vernier_trials{{study="worked",state="COMPLETE"}}': WORKED_TRIALS,
        'vernier_studies{state="COMPLETED"}': 1,
        # RPCs by method and code: four tells through the CLI, one unknown.
        f'vernier_rpcs_total{{{study},method="Tell",code="OK"}}': 3,
        f'vernier_rpcs_total{{{study},method="Tell",code="NOT_FOUND"}}': 1,
        f'vernier_rpc_duration_seconds_count{{{study},method="Ask"}}': 3,
        # Every trial of both studies was suggested by the random sampler.
        'vernier_sampler_suggest_seconds_count{sampler="random"}': 3 + WORKED_TRIALS,
        'vernier_active_leases': 0,
        'vernier_workers_connected': 1,
        'vernier_worker_registrations_total': 1,
        'vernier_lease_expiries_total': None,  # None: no lease expired, no series.
        # The worker: its slots, idle again, and the trials it ran.
        'vernier_worker_slots{state="idle"}': 2,
        'vernier_worker_slots{state="busy"}': 0,
        'vernier_worker_trials_total{outcome="COMPLETE"}': WORKED_TRIALS,
        'vernier_worker_trials_total{outcome="FAILED"}': 0,
        # Both targets were scraped.
        'up{job="vernier-server"}': 1,
        'up{job="vernier-worker"}': 1,
    }


def check_through_prometheus(prometheus_url):
    expected = expected_values()
    last = {}

    def all_match():
        for expr, value in expected.items():
            last[expr] = query(prometheus_url, expr)
        return all(last[expr] == value for expr, value in expected.items())
    try:
        wait_until("Prometheus to hold the expected values", all_match, QUERY_TIMEOUT_S, 1.0)
    except Failure:
        wrong = [f"  {expr}: expected {value}, Prometheus has {last.get(expr)}"
                 for expr, value in expected.items() if last.get(expr) != value]
        raise Failure("values read back through Prometheus differ:\n" + "\n".join(wrong))
    print(f"prometheus_e2e_test: {len(expected)} values read back through Prometheus match")


def run(args, work_dir, processes):
    bin_dir = os.path.abspath(args.bin_dir)  # The processes run in work_dir.
    server_bin = os.path.join(bin_dir, "vernier-server")
    worker_bin = os.path.join(bin_dir, "vernier-worker")
    cli = os.path.join(bin_dir, "vernier")
    for binary in (server_bin, worker_bin, cli):
        if not os.access(binary, os.X_OK):
            raise Failure(f"{binary} is not built")

    server = processes.start("vernier-server", [
        server_bin, "--db", os.path.join(work_dir, "vernier.db"), "--listen", "127.0.0.1:0",
        "--port-file", os.path.join(work_dir, "port"), "--insecure",
        "--metrics-listen", "127.0.0.1:0",
        "--metrics-port-file", os.path.join(work_dir, "metrics-port"),
        "--heartbeat-seconds", "0.5"])
    port = read_port_file(os.path.join(work_dir, "port"), server, "vernier-server", processes)
    server_metrics_port = read_port_file(os.path.join(work_dir, "metrics-port"), server,
                                         "vernier-server", processes)
    address = f"127.0.0.1:{port}"

    worker = processes.start("vernier-worker", [
        worker_bin, "--server", address, "--name", "e2e", "--cpu-slots", "2",
        "--work-dir", os.path.join(work_dir, "work"),
        "--metrics-listen", "127.0.0.1:0",
        "--metrics-port-file", os.path.join(work_dir, "worker-metrics-port")])
    worker_metrics_port = read_port_file(os.path.join(work_dir, "worker-metrics-port"), worker,
                                         "vernier-worker", processes)

    trial_program = os.path.join(work_dir, "trial.py")
    with open(trial_program, "w") as f:
        f.write(TRIAL_PROGRAM)
    run_studies(cli, address, work_dir, trial_program)

    config = os.path.join(work_dir, "prometheus.yml")
    write_prometheus_config(config, server_metrics_port, worker_metrics_port)
    prometheus_port = free_port()
    prometheus = processes.start("prometheus", [
        args.prometheus, f"--config.file={config}",
        f"--storage.tsdb.path={os.path.join(work_dir, 'tsdb')}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"])
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"

    def ready():
        processes.check_alive(prometheus, "prometheus")
        return http_get(f"{prometheus_url}/-/ready")[0] == 200
    wait_until("Prometheus to be ready", ready, STARTUP_TIMEOUT_S)
    check_through_prometheus(prometheus_url)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", required=True,
                        help="where vernier-server, vernier-worker and vernier are")
    parser.add_argument("--prometheus", default="/usr/bin/prometheus")
    args = parser.parse_args(argv)
    if not os.access(args.prometheus, os.X_OK):
        print(f"prometheus_e2e_test: SKIPPED: {args.prometheus} is not installed "
              "(Debian package `prometheus`, in scripts/setup.sh)")
        return SKIPPED

    work_dir = tempfile.mkdtemp(prefix="vernier-prometheus-e2e-")
    processes = Processes(work_dir)
    try:
        run(args, work_dir, processes)
        return 0
    except Exception as e:  # Failure, or a bug here: either way, show the logs.
        print(f"prometheus_e2e_test: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        processes.print_logs()
        return 1
    finally:
        processes.stop_all()
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
