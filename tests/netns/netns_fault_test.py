#!/usr/bin/python3
"""Multi-host fault tolerance of Vernier, on Linux network namespaces.

What it proves: with a server host, three worker hosts and a client host joined
by a switch, Vernier finishes every trial exactly once, and stores for each one
exactly what the attempt it acknowledged reported, while

  1. a worker host's link is down for longer than its lease: its trials run
     again on the other hosts; the server is killed with SIGKILL and restarted
     while the host is still cut off; when the link is back, the results that
     host's trials reached meanwhile are refused (the worker logs the lease as
     gone) and never stored;
  2. the server host is cut off for 30 s: the workers see their calls fail
     and back off (w1 and w2 log it; w3's calls may be failing through the
     proxy already), and the server hears from all three again once the link
     is back (its vernier_workers_connected metric); no trial is lost and none
     counted twice; then the server is killed with SIGKILL and restarted;
  3. all along, worker w3 reaches the server only through fault_proxy.py
     (delays, TCP resets, half-open connections); a last study runs with the
     server killed once more mid-flight.

Each phase runs its own study of trials (side_log_trial.py, beside this file)
that append every report they send to a side log. At the end of a phase the
study must be COMPLETED with every trial COMPLETE, and for every stored trial:
its final metrics are the final line of exactly one attempt in the side log
(the attempt it acknowledged), its stored steps are that attempt's steps, its
parameters are those every attempt of that number ran with, and its worker is
that attempt's host. Every other attempt that ran to its final line must have
been refused (its worker logged that the lease was gone). What the server
answered before each kill -9 must still be there, unchanged, and once the
last phase is over every ended study must read back exactly as at its end.

Topology: namespaces <prefix>-{switch,server,w1,w2,w3,client} (prefix vnft<pid>,
so parallel runs do not clash); the switch holds bridge br0 with one veth port
per host, each host has eth0 in 10.200.0.0/24. The host's own network is never
touched. Without the bridge module the switch routes instead (ip_forward and
proxy ARP). A link is cut by setting the host's port on the switch down. Every
namespace and process is removed at the end, whatever happens (finally, atexit,
SIGTERM/SIGINT/SIGHUP; children also get SIGKILL if the test itself dies, and
leftovers of a killed run are swept at the next start).

Run it by hand (root, iproute2):

    sudo /usr/bin/python3 tests/netns/netns_fault_test.py --bin-dir build/bin

Exit status: 0 passed, 1 failed (with the reason and the logs' tails), 77
skipped ("SKIPPED: <why>": not root, no `ip`, or namespaces or veth pairs
cannot be created here). Takes 70-110 s on 2 busy cores. Standard library only.
"""

import argparse
import atexit
import ctypes
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

SKIPPED = 77
HERE = os.path.dirname(os.path.abspath(__file__))

SUBNET = "10.200.0"
HOSTS = {"server": 1, "w1": 11, "w2": 12, "w3": 13, "client": 20}  # last octets
WORKERS = ["w1", "w2", "w3"]
PROXIED_WORKER = "w3"
SERVER_PORT = 50051
PROXY_PORT = 7000
SERVER_ADDRESS = f"{SUBNET}.{HOSTS['server']}:{SERVER_PORT}"
METRICS_ADDRESS = f"{SUBNET}.{HOSTS['server']}:9464"
METRICS_URL = f"http://{METRICS_ADDRESS}/metrics"

LEASE_SECONDS = 3
HEARTBEAT_SECONDS = 0.5
SERVER_CUT_SECONDS = 30
SLOTS_PER_WORKER = 2

# Each phase's study: 16 trials of 6 steps, 0.3 s apart (about 2 s a trial),
# 6 at a time on the 6 slots. Retries are generous: a trial may lose its
# lease to each fault; max_failures 0 stops the study at the first FAILED one.
MAX_TRIALS = 16
STEPS = 6
STEP_SECONDS = 0.3

# fault_proxy.py in front of w3: a slow path (2-22 ms per chunk) that resets
# now and then (a few times a run) and goes half-open about every 10 s of a
# connection's life, for 4 s (longer than the lease) before it resets.
# Half-open connections that never end would stall w3 for good (vernier-worker's
# channel has no keepalive), so they end here as a middlebox's timeout would.
PROXY_HALF_OPEN_SECONDS = 4
PROXY_FLAGS = ["--seed", "7", "--delay-ms", "2", "--jitter-ms", "20",
               "--reset-per-second", "0.03", "--reset-per-chunk", "0.004",
               "--half-open-per-second", "0.1",
               "--half-open-seconds", str(PROXY_HALF_OPEN_SECONDS)]

# Hang guards (a healthy run takes a fraction of each) and the whole run's
# deadline, below CTest's TIMEOUT 400.
STARTUP_TIMEOUT_S = 30
STEP_TIMEOUT_S = 60
STUDY_TIMEOUT_S = 120
RUN_DEADLINE_S = 360
CLI_TIMEOUT_S = 20

STALE_REFUSAL = "(lease is gone|lease is lost)"
NAMESPACE_PREFIX = "vnft"

START = time.monotonic()


class Failure(Exception):
    """The test failed; the message says what differs."""


class Skipped(Exception):
    """Namespaces cannot be used here; the message says why."""


class Interrupted(Exception):
    """A signal asked the test to stop."""


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", flush=True)


def wait_until(what, predicate, timeout_s, interval_s=0.5):
    """Calls predicate() until it returns a true value, and returns that; raises
    Failure naming `what` after timeout_s, or when the run's deadline passed."""
    deadline = min(time.monotonic() + timeout_s, START + RUN_DEADLINE_S)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out waiting for {what} (after {timeout_s} s, or the run's "
                          f"{RUN_DEADLINE_S} s deadline)")
        time.sleep(interval_s)


# --------------------------------------------------------------------------
# The network: namespaces, a switch, veth pairs.

def find_ip():
    """Path of iproute2's `ip`, also where PATH lacks the sbin directories."""
    return (shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.access(p, os.X_OK)), None))


class Network:
    """The test's namespaces and links. Nothing is created outside its own
    namespaces. teardown() kills every process in them and deletes them; it may
    be called any number of times."""

    def __init__(self, ip, prefix):
        self.ip = ip
        self.prefix = prefix
        self.namespaces = []  # Created so far, in order.
        self.mode = None      # "bridge" or "routed" once created.

    def ns(self, host):
        return f"{self.prefix}-{host}"

    def run_ip(self, *args):
        """Runs `ip ARGS`; raises Failure with its stderr when it fails."""
        result = subprocess.run([self.ip, *args], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise Failure(f"ip {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def add_namespace(self, name):
        self.run_ip("netns", "add", name)
        self.namespaces.append(name)
        self.run_ip("-n", name, "link", "set", "lo", "up")

    def create(self, mode):
        """Creates the switch and one namespace per host of HOSTS, each joined to
        the switch by a veth pair. mode: "bridge", "routed", or "auto" (bridge,
        else routed). Raises Skipped when the kernel refuses namespaces or veth
        pairs."""
        switch = self.ns("switch")
        try:
            self.add_namespace(switch)
        except Failure as error:
            raise Skipped(f"cannot create a network namespace: {error}") from None
        self.mode = self.make_switch(switch, mode)
        for host, octet in HOSTS.items():
            self.add_namespace(self.ns(host))
            try:
                self.run_ip("-n", switch, "link", "add", host, "type", "veth",
                            "peer", "name", "eth0", "netns", self.ns(host))
            except Failure as error:
                raise Skipped(f"cannot create a veth pair: {error}") from None
            self.attach_port(switch, host, octet)
            self.run_ip("-n", self.ns(host), "addr", "add", f"{SUBNET}.{octet}/24", "dev", "eth0")
            self.run_ip("-n", self.ns(host), "link", "set", "eth0", "up")

    def make_switch(self, switch, mode):
        if mode in ("bridge", "auto"):
            try:
                self.run_ip("-n", switch, "link", "add", "br0", "type", "bridge")
                self.run_ip("-n", switch, "link", "set", "br0", "up")
                return "bridge"
            except Failure as error:
                if mode == "bridge":
                    raise Skipped(f"cannot create a bridge: {error}") from None
                say(f"no bridge ({error}); routing through the switch namespace instead")
        self.set_sysctl(switch, "net/ipv4/ip_forward", "1")
        return "routed"

    def attach_port(self, switch, host, octet):
        """Puts the switch's end of host's veth pair in service."""
        if self.mode == "bridge":
            self.run_ip("-n", switch, "link", "set", host, "master", "br0")
        else:
            # The switch answers ARP for every other host (proxy ARP) and
            # routes to each host over its port.
            self.run_ip("-n", switch, "addr", "add", f"{SUBNET}.254/32", "dev", host)
            self.set_sysctl(switch, f"net/ipv4/conf/{host}/proxy_arp", "1")
        self.run_ip("-n", switch, "link", "set", host, "up")
        if self.mode == "routed":
            self.run_ip("-n", switch, "route", "add", f"{SUBNET}.{octet}/32", "dev", host)

    def set_sysctl(self, namespace, key, value):
        self.run_ip("netns", "exec", namespace, "sh", "-c", f"echo {value} > /proc/sys/{key}")

    def set_link(self, host, up):
        """Plugs (up) or unplugs (down) host's port on the switch: while it is
        down, the host's packets vanish and nothing reaches it."""
        self.run_ip("-n", self.ns("switch"), "link", "set", host, "up" if up else "down")
        if up and self.mode == "routed":  # A port going down drops its route.
            self.run_ip("-n", self.ns("switch"), "route", "replace",
                        f"{SUBNET}.{HOSTS[host]}/32", "dev", host)

    def exec_argv(self, host, argv):
        return [self.ip, "netns", "exec", self.ns(host), *argv]

    def kill_processes(self, name):
        """SIGKILLs every process in namespace `name` (a worker's trials too)."""
        result = subprocess.run([self.ip, "netns", "pids", name], capture_output=True, text=True)
        for pid in result.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def teardown(self):
        for name in reversed(self.namespaces):
            self.kill_processes(name)
        for name in reversed(self.namespaces):
            subprocess.run([self.ip, "netns", "del", name], capture_output=True)
        self.namespaces = []

    def sweep_stale(self):
        """Deletes the namespaces of earlier runs of this test whose process is
        gone (a run killed by SIGKILL), with the processes in them."""
        result = subprocess.run([self.ip, "netns", "list"], capture_output=True, text=True)
        for line in result.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            match = re.fullmatch(NAMESPACE_PREFIX + r"(\d+)-\w+", name)
            if not match or process_alive(int(match.group(1))):
                continue
            say(f"removing namespace {name} left by an earlier run")
            self.kill_processes(name)
            subprocess.run([self.ip, "netns", "del", name], capture_output=True)

    def leftovers(self):
        """Namespaces of this run still listed (empty after teardown)."""
        result = subprocess.run([self.ip, "netns", "list"], capture_output=True, text=True)
        return [line.split()[0] for line in result.stdout.splitlines()
                if line.startswith(self.prefix + "-")]


def process_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


# --------------------------------------------------------------------------
# Processes of the test, each logged to a file.

_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def die_with_the_test():
    """preexec_fn: the child gets SIGKILL if the test dies first."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Processes:
    """Child processes, each in its own session, logging stdout and stderr to
    <log_dir>/<name>.log (appended to when a name is started again)."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = {}  # name -> Popen

    def log_path(self, name):
        return os.path.join(self.log_dir, f"{name}.log")

    def start(self, name, argv):
        with open(self.log_path(name), "ab") as log:
            log.write(f"==== [{time.monotonic() - START:.1f}s] {' '.join(argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       preexec_fn=die_with_the_test)
        self.running[name] = process
        return process

    def alive(self, name):
        process = self.running.get(name)
        return process is not None and process.poll() is None

    def signal(self, name, signum):
        process = self.running[name]
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass

    def log_text(self, name, since=0):
        """The log from byte offset `since` (see log_size)."""
        try:
            with open(self.log_path(name), "rb") as log:
                log.seek(since)
                return log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self, name):
        try:
            return os.path.getsize(self.log_path(name))
        except FileNotFoundError:
            return 0

    def kill_all(self):
        for process in self.running.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def tails(self, lines=25):
        """The last lines of every log, for a failure's report."""
        text = []
        for name in sorted(self.running):
            tail = self.log_text(name).splitlines()[-lines:]
            text.append(f"---- {self.log_path(name)}, last {len(tail)} lines ----\n"
                        + "\n".join(tail))
        return "\n".join(text)


# --------------------------------------------------------------------------
# The Vernier cluster on the namespaces.

def help_mentions(binary, flag):
    result = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    return flag in result.stdout + result.stderr


class Cluster:
    """vernier-server on host "server", a vernier-worker on each host of
    WORKERS (PROXIED_WORKER through fault_proxy.py in its own namespace), and
    the CLI on host "client"."""

    def __init__(self, network, processes, bin_dir, work_dir):
        self.network = network
        self.processes = processes
        self.bin = {name: os.path.join(bin_dir, name)
                    for name in ("vernier-server", "vernier-worker", "vernier")}
        self.work_dir = work_dir
        self.db = os.path.join(work_dir, "vernier.db")
        self.port_file = os.path.join(work_dir, "server.port")
        self.proxy_log = os.path.join(work_dir, "proxy.jsonl")
        self.server_kills = 0
        for name, path in self.bin.items():
            if not os.access(path, os.X_OK):
                raise Failure(f"{name} not found at {path} (--bin-dir)")
        # Only a server built with tokens takes --insecure (as in process_util.h).
        self.insecure = {name: help_mentions(path, "--insecure") for name, path in self.bin.items()}

    def flags(self, binary):
        return ["--insecure"] if self.insecure[binary] else []

    def start_server(self):
        """Starts (or restarts) vernier-server on the same database and
        address; returns once it serves."""
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        argv = [self.bin["vernier-server"], "--db", self.db, "--listen", SERVER_ADDRESS,
                "--lease-seconds", str(LEASE_SECONDS),
                "--heartbeat-seconds", str(HEARTBEAT_SECONDS), "--port-file", self.port_file,
                "--metrics-listen", METRICS_ADDRESS, *self.flags("vernier-server")]
        self.processes.start("server", self.network.exec_argv("server", argv))

        def serving():
            if not self.processes.alive("server"):
                raise Failure("vernier-server exited at start-up")
            return os.path.exists(self.port_file) and open(self.port_file).read().strip()
        wait_until("vernier-server to serve", serving, STARTUP_TIMEOUT_S, 0.1)

    def kill9_and_restart_server(self, why):
        """kill -9 of vernier-server, then a new one on the same --db and address."""
        say(f"kill -9 vernier-server ({why})")
        self.processes.signal("server", signal.SIGKILL)
        status = self.processes.running["server"].wait(timeout=30)
        if status != -signal.SIGKILL:
            raise Failure(f"vernier-server ended with status {status} before the kill -9")
        self.server_kills += 1
        self.start_server()
        say("vernier-server restarted on the same database and address")

    def start_proxy(self):
        argv = [sys.executable, os.path.join(HERE, "fault_proxy.py"),
                "--listen", f"127.0.0.1:{PROXY_PORT}", "--upstream", SERVER_ADDRESS,
                "--log", self.proxy_log, *PROXY_FLAGS]
        self.processes.start("proxy", self.network.exec_argv(PROXIED_WORKER, argv))
        wait_until("fault_proxy.py to listen",
                   lambda: '"listening"' in read_text(self.proxy_log), STARTUP_TIMEOUT_S, 0.1)

    def start_worker(self, host):
        server = f"127.0.0.1:{PROXY_PORT}" if host == PROXIED_WORKER else SERVER_ADDRESS
        work = os.path.join(self.work_dir, "hosts", host)
        os.makedirs(work, exist_ok=True)
        argv = [self.bin["vernier-worker"], "--server", server, "--name", host,
                "--cpu-slots", str(SLOTS_PER_WORKER), "--threads-per-slot", "1",
                "--work-dir", work, "--code-dir", HERE, *self.flags("vernier-worker")]
        self.processes.start(host, self.network.exec_argv(host, argv))

    def check_alive(self):
        """Raises Failure when a process that should run has exited."""
        for name in ["server", "proxy", *WORKERS]:
            if not self.processes.alive(name):
                raise Failure(f"{name} exited (status {self.processes.running[name].poll()})")

    def cli(self, *args):
        """Runs `vernier --server SERVER --format json ARGS` on the client host;
        returns (status, stdout, stderr); status None when it timed out."""
        argv = self.network.exec_argv("client", [
            self.bin["vernier"], "--server", SERVER_ADDRESS, "--format", "json",
            *self.flags("vernier"), *args])
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, "", "timed out"
        return result.returncode, result.stdout, result.stderr

    def cli_json(self, *args):
        """The CLI's JSON answer, or None when the call failed (the server may
        be down or cut off: callers poll)."""
        status, out, _ = self.cli(*args)
        if status != 0:
            return None
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return None

    def workers_connected(self):
        """vernier_workers_connected as the server's metrics endpoint says it
        on the client host (workers that called within a lease length; the
        server keeps no registry, so a worker keeps its id), or None."""
        fetch = ("import sys, urllib.request\n"
                 "print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        argv = self.network.exec_argv("client", [sys.executable, "-c", fetch, METRICS_URL])
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None
        match = re.search(r"^vernier_workers_connected (\S+)$", result.stdout, re.MULTILINE)
        return float(match.group(1)) if match else None

    def trials(self, study):
        trials = self.cli_json("trials", study)
        return trials if isinstance(trials, list) else None

    def create_study(self, name, side_log):
        path = os.path.join(self.work_dir, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(study_yaml(name, side_log))
        status, out, err = self.cli("study", "create", "-f", path)
        if status != 0:
            raise Failure(f"vernier study create {name}: status {status}: {err.strip() or out}")

    def wait_study_end(self, name):
        def ended():
            study = self.cli_json("study", "show", name)
            return study if study and study.get("state") != "ACTIVE" else None
        return wait_until(f"study {name} to end", ended, STUDY_TIMEOUT_S)


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def study_yaml(name, side_log):
    """A study of MAX_TRIALS side-logging trials, no pruning."""
    trial = os.path.join(HERE, "side_log_trial.py")
    return textwrap.dedent(f"""\
        name: {name}
        objective: {{metric: loss, goal: minimize}}
        params:
          x: {{type: float, low: -2, high: 2}}
          y: {{type: float, low: -2, high: 2}}
        sampler: {{type: random, seed: 11}}
        pruner: {{type: none}}
        budget: {{max_trials: {MAX_TRIALS}, parallel: 6, max_failures: 0, max_retries: 10}}
        trainer:
          command: ["{sys.executable}", "{trial}"]
          time_limit: 60
          stop_grace: 2
          steps: {STEPS}
          sleep: {STEP_SECONDS}
          side_log: "{side_log}"
        """)


# --------------------------------------------------------------------------
# What the trials said (side logs) against what the server stored.

ATTEMPT_DIR = re.compile(r"/hosts/(\w+)/[^/]+/trial-(\d+)-attempt-(\d+)$")


@dataclasses.dataclass
class Attempt:
    """One run of one trial, as its side log tells it."""
    dir: str
    host: str       # The worker host it ran on.
    trial: int
    number: int     # The server's attempt number (from the trial directory).
    token: int      # The "attempt" metric of its reports.
    params: dict
    steps: dict = dataclasses.field(default_factory=dict)  # step -> metrics
    final: dict = None

    def describe(self, study):
        return f"{study}#{self.trial} (attempt {self.number}) on {self.host}"


def read_side_log(path):
    """dir -> Attempt for every attempt in the side log; a last line cut by a
    kill is skipped."""
    attempts = {}
    for line in read_text(path).splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        attempt = attempts.get(entry["dir"])
        if attempt is None:
            match = ATTEMPT_DIR.search(entry["dir"])
            if not match:
                raise Failure(f"side log: unexpected trial directory {entry['dir']}")
            attempt = Attempt(entry["dir"], match.group(1), entry["trial"], int(match.group(3)),
                              entry["attempt"], entry["params"])
            attempts[entry["dir"]] = attempt
        if entry.get("final"):
            attempt.final = entry["metrics"]
        else:
            attempt.steps[entry["step"]] = entry["metrics"]
    return attempts


@dataclasses.dataclass
class StudyCheck:
    """What check_study found; every field was checked against the side log."""
    trials: list
    attempts: dict           # dir -> Attempt
    acknowledged: dict       # trial number -> the Attempt the server stored
    stale_finals: list       # Attempts that ran to their final line, not stored
    snapshots_checked: int = 0


def stored_steps(trial):
    return {m["step"]: m["metrics"] for m in trial.get("intermediate", [])}


def check_study(cluster, study, side_log, snapshots):
    """Checks the ended study against its side log and against what the server
    answered before each kill (snapshots: lists of trials). Returns a
    StudyCheck; raises Failure naming the first difference."""
    shown = cluster.cli_json("study", "show", study)
    trials = cluster.trials(study)
    if shown is None or trials is None:
        raise Failure(f"cannot read study {study} back")
    if shown["state"] != "COMPLETED" or shown.get("trial_counts") != {"COMPLETE": MAX_TRIALS}:
        reasons = [f"#{t['number']} {t['state']}: {t.get('failure_reason', '')[:300]}"
                   for t in trials if t["state"] != "COMPLETE"]
        raise Failure(f"study {study} ended {shown['state']} ({shown.get('state_reason', '')}) "
                      f"with {shown.get('trial_counts')}; not COMPLETE: {reasons}")
    numbers = [t["number"] for t in trials]
    if sorted(numbers) != list(range(MAX_TRIALS)):
        raise Failure(f"study {study}: trial numbers {numbers}, expected 0..{MAX_TRIALS - 1}")
    by_number = {t["number"]: t for t in trials}
    attempts = read_side_log(side_log)
    for attempt in attempts.values():
        stored = by_number.get(attempt.trial)
        if stored is None:
            raise Failure(f"{attempt.describe(study)} ran, but the study has no such trial")
        if stored["params"] != attempt.params:
            raise Failure(f"{attempt.describe(study)} ran with {attempt.params}; "
                          f"the trial stored {stored['params']}")
    acknowledged = {n: acknowledged_attempt(study, t, attempts) for n, t in by_number.items()}
    stale = [a for a in attempts.values()
             if a.final is not None and acknowledged[a.trial] is not a]
    check = StudyCheck(trials, attempts, acknowledged, stale)
    check.snapshots_checked = check_snapshots(study, by_number, snapshots)
    return check


def acknowledged_attempt(study, stored, attempts):
    """The one attempt whose reports the COMPLETE trial `stored` holds;
    raises Failure unless its final metrics, steps and worker are exactly that
    attempt's."""
    where = f"{study}#{stored['number']}"
    token = stored["final_metrics"].get("attempt")
    matches = [a for a in attempts.values() if a.trial == stored["number"] and a.token == token]
    if len(matches) != 1:
        raise Failure(f"{where}: stored final metrics {stored['final_metrics']} match "
                      f"{len(matches)} attempts of the side log, expected exactly 1")
    attempt = matches[0]
    if attempt.final is None or stored["final_metrics"] != attempt.final:
        raise Failure(f"{where}: stored final metrics {stored['final_metrics']}, "
                      f"the attempt's final line {attempt.final}")
    steps = stored_steps(stored)
    if steps != attempt.steps:
        raise Failure(f"{where}: stored steps {steps} differ from those of "
                      f"{attempt.describe(study)}: {attempt.steps}")
    if not stored.get("worker_id", "").startswith(attempt.host + "-"):
        raise Failure(f"{where}: stored worker {stored.get('worker_id')}, "
                      f"but the acknowledged attempt ran on {attempt.host}")
    return attempt


def check_snapshots(study, by_number, snapshots):
    """What the server answered before a kill is still there: every trial with
    its params; a COMPLETE one with the same steps and final metrics. Returns
    the number of trials compared."""
    compared = 0
    for snapshot in snapshots:
        for old in snapshot:
            now = by_number.get(old["number"])
            where = f"{study}#{old['number']} (answered before a kill -9)"
            if now is None or now["params"] != old["params"]:
                raise Failure(f"{where}: was {old}, now {now}")
            if old["state"] == "COMPLETE" and (
                    now["state"] != "COMPLETE" or now["final_metrics"] != old["final_metrics"]
                    or stored_steps(now) != stored_steps(old)):
                raise Failure(f"{where}: changed after it was COMPLETE: was {old}, now {now}")
            compared += 1
    return compared


def refusal_pattern(study, attempt):
    return re.compile(rf"trial {re.escape(study)}#{attempt.trial} \(attempt {attempt.number}\)"
                      rf": .*{STALE_REFUSAL}")


def wait_stale_attempts_refused(cluster, study, stale):
    """Waits until the worker of each stale attempt logged that the server
    refused it (its lease is gone); a worker cut off may still be retrying."""
    def all_logged():
        return all(refusal_pattern(study, a).search(cluster.processes.log_text(a.host))
                   for a in stale)
    try:
        wait_until("the workers to log their stale attempts as refused", all_logged, STEP_TIMEOUT_S)
    except Failure:
        missing = [a.describe(study) for a in stale
                   if not refusal_pattern(study, a).search(cluster.processes.log_text(a.host))]
        raise Failure(f"attempts that ran to their end were neither stored nor refused: {missing}")


def check_completions_acknowledged_once(cluster, study, check):
    """The workers' own view: for each trial exactly one CompleteTrial was
    answered OK (a worker logs "trial S#N (attempt K): COMPLETE" with nothing
    after it only then), and it was the acknowledged attempt's."""
    pattern = re.compile(rf"trial {re.escape(study)}#(\d+) \(attempt (\d+)\): COMPLETE$",
                         re.MULTILINE)

    def every_trial_logged():
        found = {}
        for host in WORKERS:
            for n, k in pattern.findall(cluster.processes.log_text(host)):
                found.setdefault(int(n), []).append((host, int(k)))
        return found if len(found) == MAX_TRIALS else None
    # A worker logs the answer just after the server committed it.
    found = wait_until("the workers to log every completion", every_trial_logged, STEP_TIMEOUT_S)
    for number, acknowledged in check.acknowledged.items():
        expected = [(acknowledged.host, acknowledged.number)]
        if found.get(number) != expected:
            raise Failure(f"{study}#{number}: workers saw CompleteTrial accepted for "
                          f"{found.get(number)}, expected once, for {expected}")


def finish_phase(cluster, study, side_log, snapshots):
    """Waits for the study's end, checks it, waits for its stale attempts to be
    refused and checks the workers saw each trial completed once; returns the
    StudyCheck."""
    cluster.wait_study_end(study)
    check = check_study(cluster, study, side_log, snapshots)
    wait_stale_attempts_refused(cluster, study, check.stale_finals)
    check_completions_acknowledged_once(cluster, study, check)
    cluster.check_alive()
    return check


def running_on(trials, host):
    return [t for t in trials if t["state"] == "RUNNING" and t["worker_id"].startswith(host + "-")]


def wait_trials(cluster, study, what, predicate, timeout_s=STEP_TIMEOUT_S):
    """Polls the study's trials until predicate(trials) holds; returns them."""
    def ready():
        trials = cluster.trials(study)
        return trials if trials is not None and predicate(trials) else None
    return wait_until(what, ready, timeout_s, 0.2)


def completed(trials):
    return sum(t["state"] == "COMPLETE" for t in trials)


# --------------------------------------------------------------------------
# The phases. Each returns a dict of figures for the summary.

def phase_worker_link_down(cluster):
    """w1's link goes down while it runs trials and stays down until another
    host took each of them (so longer than the lease); then, still during the
    cut, the server is killed -9 and restarted (only then: a restart may cost
    every running trial its lease, since a worker's channel can take longer
    than the lease to reconnect, and the cut alone must be what moved w1's
    trials); then the link comes back."""
    study, side_log = "link", os.path.join(cluster.work_dir, "side-link.jsonl")
    cluster.create_study(study, side_log)

    wait_trials(cluster, study, "w1 to run a trial mid-way", lambda trials: any(
        1 <= len(t["intermediate"]) <= STEPS - 3 for t in running_on(trials, "w1")))
    cluster.network.set_link("w1", up=False)
    cut_at = time.monotonic()
    snapshot = cluster.trials(study)
    victims = {t["number"]: t["retries"] for t in running_on(snapshot, "w1")}
    if not victims:
        raise Failure("precondition: w1 held no trial once its link was down")
    say(f"w1 link down; it holds trials {sorted(victims)}")

    def taken_elsewhere():
        trials = cluster.trials(study)
        if not trials:
            return False
        by_number = {t["number"]: t for t in trials}
        return all(by_number[n]["retries"] > r and not by_number[n]["worker_id"].startswith("w1-")
                   for n, r in victims.items())
    wait_until("w1's trials to be taken by other hosts", taken_elsewhere, STEP_TIMEOUT_S)
    snapshot = cluster.trials(study) or snapshot
    cluster.kill9_and_restart_server("while w1 is still cut off")
    time.sleep(max(0.0, cut_at + 2 * LEASE_SECONDS - time.monotonic()))
    cut_seconds = time.monotonic() - cut_at
    cluster.network.set_link("w1", up=True)
    say(f"w1 link up after {cut_seconds:.1f} s (lease {LEASE_SECONDS} s); "
        f"its trials run elsewhere")

    check = finish_phase(cluster, study, side_log, [snapshot])
    # w1 had run no attempt of them before: their first there is the cut one.
    started = first_attempts_started(cluster.processes.log_text("w1"), study)
    check_cut_attempts_refused(study, check, {n: started.get(n) for n in victims})
    return {"study": study, "side_log": side_log, "check": check,
            "notes": f"w1 cut {cut_seconds:.1f} s; its trials {sorted(victims)} finished once "
                     f"elsewhere; w1's results for them refused"}


def first_attempts_started(worker_log, study):
    """trial number -> the first attempt number a worker's log started."""
    first = {}
    for n, k in re.findall(rf"trial {re.escape(study)}#(\d+) \(attempt (\d+)\): started on",
                           worker_log):
        first.setdefault(int(n), int(k))
    return first


def check_cut_attempts_refused(study, check, cut_attempts):
    """Each attempt w1 ran when it was cut off (trial -> attempt number, None
    when w1 never logged it) ran to its final line during the cut, and was not
    stored: it is among the stale results, which finish_phase saw refused."""
    for number, attempt_number in cut_attempts.items():
        where = f"{study}#{number} (attempt {attempt_number}) on w1"
        if attempt_number is None:
            raise Failure(f"{study}#{number}: w1 held it when cut off but never started it")
        attempt = next((a for a in check.attempts.values() if a.host == "w1"
                        and a.trial == number and a.number == attempt_number), None)
        if attempt is None:
            raise Failure(f"{where}: not in the side log")
        if attempt.final is None:
            raise Failure(f"{where}: did not reach its end during the cut "
                          f"(steps {sorted(attempt.steps)})")
        if check.acknowledged[number] is attempt:
            raise Failure(f"{where}: the result of the cut-off attempt was stored")


def phase_server_cut_off(cluster):
    """The server host is unplugged for SERVER_CUT_SECONDS while trials run;
    the workers must notice, back off, and reconnect when it is back; then
    the server is killed -9 and restarted."""
    study, side_log = "cut", os.path.join(cluster.work_dir, "side-cut.jsonl")
    cluster.create_study(study, side_log)

    snapshot = wait_trials(cluster, study, "4 trials to run mid-way", lambda trials: sum(
        t["state"] == "RUNNING" and bool(t["intermediate"]) for t in trials) >= 4)
    marks = {w: cluster.processes.log_size(w) for w in WORKERS}
    cluster.network.set_link("server", up=False)
    say(f"server link down for {SERVER_CUT_SECONDS} s; "
        f"{sum(t['state'] == 'RUNNING' for t in snapshot)} trials running")
    time.sleep(SERVER_CUT_SECONDS)
    # A worker logs the first failure of each call it retries; w3's calls may
    # have been failing (and retried, unlogged) through the proxy already.
    direct = [w for w in WORKERS if w != PROXIED_WORKER]
    noticed = {w: bool(re.search(r"failed \(", cluster.processes.log_text(w, marks[w])))
               for w in direct}
    if not all(noticed.values()):
        raise Failure(f"not every worker saw its calls fail during the cut: {noticed}")
    cluster.network.set_link("server", up=True)
    up_at = time.monotonic()
    say(f"server link up; {', '.join(direct)} had seen their calls fail and back off")
    wait_until("the server to hear from every worker again",
               lambda: cluster.workers_connected() == len(WORKERS), STEP_TIMEOUT_S)
    reconnect_seconds = time.monotonic() - up_at
    say(f"the server hears from all {len(WORKERS)} workers again, {reconnect_seconds:.1f} s "
        f"after the link came back")

    before = completed(cluster.trials(study) or [])
    kill_snapshot = wait_trials(cluster, study, "2 more trials to complete after the cut",
                                lambda t: completed(t) >= min(before + 2, MAX_TRIALS))
    if completed(kill_snapshot) < MAX_TRIALS:
        cluster.kill9_and_restart_server("after the workers reconnected")
    check = finish_phase(cluster, study, side_log, [snapshot, kill_snapshot])
    # Leases lost to the cut itself: seen before the kill -9, which may cost
    # more.
    before_kill = {t["number"]: t["retries"] for t in kill_snapshot}
    retried = sum(t["state"] == "RUNNING" and before_kill[t["number"]] > t["retries"]
                  for t in snapshot)
    if retried == 0:
        raise Failure("no running trial lost its lease during a 30 s cut-off: "
                      "the cut did not take effect")
    return {"study": study, "side_log": side_log, "check": check,
            "notes": f"{retried} running trials lost their lease in the cut; "
                     f"all workers back {reconnect_seconds:.1f} s after the cut"}


def phase_lossy_path(cluster):
    """A study with w3 still behind fault_proxy.py, and one more kill -9 of the
    server once a third of it is done."""
    study, side_log = "lossy", os.path.join(cluster.work_dir, "side-lossy.jsonl")
    cluster.create_study(study, side_log)
    snapshot = wait_trials(cluster, study, "a third of the trials to complete",
                           lambda t: completed(t) >= MAX_TRIALS // 3)
    cluster.kill9_and_restart_server("mid-study")
    check = finish_phase(cluster, study, side_log, [snapshot])
    return {"study": study, "side_log": side_log, "check": check,
            "notes": "kill -9 with a third done"}


def recheck_ended_studies(cluster, results):
    """After the last phase: no late report of a stale attempt changed an
    ended study (its trials read back exactly as at its end), and every
    attempt that ran to its end since then was refused too."""
    for result in results:
        study, old = result["study"], result["check"]
        check = check_study(cluster, study, result["side_log"], [])
        if check.trials != old.trials:
            raise Failure(f"study {study} changed after it ended: was {old.trials}, "
                          f"now {check.trials}")
        wait_stale_attempts_refused(cluster, study, check.stale_finals)
        check.snapshots_checked = old.snapshots_checked
        result["check"] = check


def proxy_figures(cluster, checks):
    """Stops the proxy (it writes its summary) and checks that it injected
    every kind of fault and that w3 still finished trials through it."""
    cluster.processes.signal("proxy", signal.SIGTERM)
    try:
        cluster.processes.running["proxy"].wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise Failure("fault_proxy.py did not stop on SIGTERM") from None
    events = [json.loads(line) for line in read_text(cluster.proxy_log).splitlines() if line]
    summary = next((e for e in events if e["event"] == "summary"), None)
    if summary is None:
        raise Failure("fault_proxy.py wrote no summary")
    counts = summary["counts"]
    resets = [e for e in events if e["event"] == "reset" and e["cause"] != "proxy stopping"]
    injected = [e for e in resets if e["cause"] == "random" or e["cause"].startswith("chunk")]
    half_open_ended = sum(e["cause"] == "half-open timeout" for e in resets)
    half_open = counts.get("half_open", 0)
    if not injected or not half_open or not summary["chunks_delayed"]:
        raise Failure(f"fault_proxy.py injected {len(injected)} resets, {half_open} half-open "
                      f"connections and {summary['chunks_delayed']} delays; the test needs at "
                      f"least one of each")
    through_proxy = sum(a.host == PROXIED_WORKER for c in checks
                        for a in c.acknowledged.values())
    if through_proxy == 0:
        raise Failure(f"{PROXIED_WORKER} finished no trial through fault_proxy.py")
    mean_ms = 1000 * summary["delay_seconds"] / summary["chunks_delayed"]
    return (f"{counts.get('accept', 0)} connections, {summary['chunks_delayed']} chunks "
            f"delayed (mean {mean_ms:.0f} ms), {len(injected)} random resets, {half_open} "
            f"half-open ({half_open_ended} reset after {PROXY_HALF_OPEN_SECONDS} s), "
            f"{len(resets) - len(injected) - half_open_ended} resets passed on from the "
            f"server's side; {through_proxy} results stored from {PROXIED_WORKER}")


def print_summary(mode, results, proxy_line, cluster):
    print(f"\nPASSED in {time.monotonic() - START:.1f} s ({mode} switch, lease {LEASE_SECONDS} s, "
          f"server killed -9 {cluster.server_kills} times)")
    header = (f"  {'study':<7} {'trials':>6} {'attempts':>8} {'stale finals refused':>20} "
              f"{'trials kept across kills':>24}")
    print(header)
    for result in results:
        check = result["check"]
        print(f"  {result['study']:<7} {len(check.trials):>6} {len(check.attempts):>8} "
              f"{len(check.stale_finals):>20} {check.snapshots_checked:>24}  {result['notes']}")
    print(f"  proxy: {proxy_line}")
    print("  every stored trial: final metrics, steps, params and worker = exactly one attempt's "
          "side log, the one attempt whose CompleteTrial was accepted; every other finished "
          "attempt refused")


# --------------------------------------------------------------------------

def preflight(ip):
    """Raises Skipped unless this process can create namespaces."""
    if os.geteuid() != 0:
        raise Skipped("not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN")
    if ip is None:
        raise Skipped("`ip` (iproute2) is not installed")
    probe = f"{NAMESPACE_PREFIX}{os.getpid()}-probe"
    result = subprocess.run([ip, "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        raise Skipped(f"`ip netns add` failed: {result.stderr.strip()}")
    subprocess.run([ip, "netns", "del", probe], capture_output=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", required=True,
                        help="directory of vernier-server, vernier-worker and vernier")
    parser.add_argument("--switch", choices=["auto", "bridge", "routed"], default="auto",
                        help="how the switch namespace joins the hosts (default: bridge, "
                             "else routed)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


class Cleanup:
    """Tears the run down once: processes first, then namespaces, then the
    work directory (unless kept). Safe from finally, atexit and signals."""

    def __init__(self, network, processes, work_dir, keep):
        self.network, self.processes = network, processes
        self.work_dir, self.keep = work_dir, keep
        self.done = False

    def __call__(self):
        if self.done:
            return
        self.done = True
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        self.processes.kill_all()
        self.network.teardown()
        left = self.network.leftovers()
        if left:
            print(f"warning: namespaces left behind: {left}", file=sys.stderr)
        if self.keep:
            print(f"work directory kept: {self.work_dir}")
        else:
            shutil.rmtree(self.work_dir, ignore_errors=True)


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def run(args, network, cluster):
    """Builds the network, starts the cluster, runs the phases; raises Failure."""
    network.sweep_stale()
    network.create(args.switch)
    say(f"network up ({network.mode} switch): " + ", ".join(
        f"{h} {SUBNET}.{o}" for h, o in HOSTS.items()))
    cluster.start_server()
    cluster.start_proxy()
    for host in WORKERS:
        cluster.start_worker(host)
    say(f"vernier-server on {SERVER_ADDRESS}; workers {', '.join(WORKERS)} "
        f"({PROXIED_WORKER} through fault_proxy.py)")
    results = []
    for phase in (phase_worker_link_down, phase_server_cut_off, phase_lossy_path):
        say(f"== {phase.__name__}")
        result = phase(cluster)
        check = result["check"]
        say(f"{result['study']}: {MAX_TRIALS} trials COMPLETE, each as its acknowledged attempt "
            f"reported; {len(check.stale_finals)} stale results refused; {result['notes']}")
        results.append(result)
    recheck_ended_studies(cluster, results)
    say("ended studies unchanged since their end; every late stale result refused")
    proxy_line = proxy_figures(cluster, [r["check"] for r in results])
    print_summary(network.mode, results, proxy_line, cluster)


def main(argv):
    args = parse_args(argv)
    ip = find_ip()
    try:
        preflight(ip)
    except Skipped as why:
        print(f"SKIPPED: {why}")
        return SKIPPED
    work_dir = tempfile.mkdtemp(prefix="vernier-netns-")
    network = Network(ip, f"{NAMESPACE_PREFIX}{os.getpid()}")
    processes = Processes(work_dir)
    cleanup = Cleanup(network, processes, work_dir, args.keep)
    atexit.register(cleanup)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        cluster = Cluster(network, processes, os.path.abspath(args.bin_dir), work_dir)
        run(args, network, cluster)
        return 0
    except Skipped as why:
        print(f"SKIPPED: {why}")
        return SKIPPED
    except (Failure, Interrupted) as why:
        print(f"\nFAILED after {time.monotonic() - START:.1f} s: {why}", flush=True)
        print(processes.tails(), file=sys.stderr)
        cleanup.keep = True
        return 1
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
