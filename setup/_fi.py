"""The one helper module of setup/: cluster, Odoo server, deliveries and load.

Pure Python (no ``import odoo``), imported by the live checks and every bench
(``sys.path`` holds ``setup/`` when a script there runs). It offers:

- ``Cluster(dir, durability="off", settings=())``: a throwaway PostgreSQL
  cluster as ``setup/_lib.sh`` ``fi_pg_start`` makes it (an unprivileged OS user
  when run as root, superuser ``fi_admin``, trust auth, role ``odoo``), with
  ``start()``, ``stop()``, ``connect()``, ``query()``, ``scalar()``,
  ``execute()``; ``DbConf(conf, db)`` queries the database of an Odoo config;
- ``write_config()``, ``derive_config()``: Odoo configuration files;
- ``odoo_cli()``, ``odoo_install()``, ``odoo_shell()``: one-shot Odoo runs;
  ``OdooServer``: ``start()`` (waits for evidence: ``/web/login`` answers),
  ``stop()``, ``kill()`` (SIGKILL of every process), ``--workers``, queue_job
  server-wide;
- ``free_port()``, ``wait_for()`` (polls until done, gives up only when the
  work stops moving), ``workdir()``, ``exit_on_sigterm()``, ``say()``;
- ``Rpc`` (XML-RPC, ``rpc.call(model, method, *args, **kw)``), ``JsonRpc``
  (a web client session: ``login()``, ``call()``, ``call_kw()``);
- signing, independent from the suite's own code: ``hmac_signature()``
  (``sha256=<hex>``), ``hmac_headers()`` (X-Signature), ``stripe_signature()``
  (``t=<ts>,v1=<hex>``), ``stripe_headers()`` (Stripe-Signature);
- the load generator: ``Target`` + ``Request`` describe what to send (every
  request distinct), ``Load`` sends it with wrk at several concurrencies in
  rounds interleaved across targets and returns events/s, p50/p90/p99, errors,
  what the database stored, lost requests and the CPU of Odoo and PostgreSQL
  per event; ``paired()`` compares two targets round by round; ``table()``
  prints the results.

A connector bench (``setup/bench_stripe.py``, run as ``setup/bench stripe``)::

    import _fi

    with _fi.workdir("fi-bench-stripe.") as work:
        cluster = _fi.Cluster(f"{work}/pg")
        cluster.start()
        conf = _fi.write_config(f"{work}/odoo.conf", cluster.port, data_dir=work)
        _fi.odoo_install(conf, "bench", "finance_integration_stripe")
        key = _fi.odoo_shell(conf, "bench", SETUP_CODE).split("KEY=")[1].split()[0]
        server = _fi.OdooServer(conf, "bench", workers=2, log=f"{work}/odoo.log")
        server.start()

        def build(tag, n):  # the n-th distinct event of a run tagged `tag`
            body = json.dumps({"id": f"evt_{tag}_{n}", "type": "charge.succeeded"})
            return _fi.Request(f"/fi/webhook/{key}", body.encode(),
                               _fi.stripe_headers(body.encode(), SECRET))

        def stored(tag, _requests):  # what the run left in the database
            return cluster.scalar("bench", "SELECT count(*) FROM fi_message "
                                  "WHERE idempotency_key LIKE %s", (f"evt_{tag}_%",))

        load = _fi.Load(server, cluster, [_fi.Target("stripe", "s", build, stored)])
        results = load.measure(levels=(1, 8), rounds=3, seconds=3)
        _fi.table(results)
        r = results["stripe", 8]
        print(f"bench stripe: eps_c8={r['eps']:.1f} p99_ms_c8={r['p99']:.1f} "
              f"lost={r['lost']} cpu_ms_c8={r['cpu_ms']:.2f}")
        server.stop()
        cluster.stop()
"""

import configparser
import contextlib
import glob
import hashlib
import hmac
import json
import os
import pwd
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xmlrpc.client
from dataclasses import dataclass

SETUP = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SETUP)
BENCH_ADDONS = os.path.join(SETUP, "bench_addons")
#: the python that imports Odoo 18.0 (setup/test and setup/bench set FI_PYTHON)
PYTHON = os.environ.get("FI_PYTHON") or os.environ.get("ODOO_PYTHON") or sys.executable
TICK = os.sysconf("SC_CLK_TCK")


def say(*args):
    print(*args, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(progress, done, stall=180, poll=0.5):
    """Poll until ``done(progress())``; True when it is.

    ``progress()`` returns a comparable measure of the work done (a count, a
    tuple of states). Gives up (False) only when it has not moved for ``stall``
    seconds: a slow machine gets the time it needs, a stuck one fails.
    """
    last, moved = progress(), time.monotonic()
    while not done(last):
        if time.monotonic() - moved > stall:
            return False
        time.sleep(poll)
        current = progress()
        if current != last:
            last, moved = current, time.monotonic()
    return True


@contextlib.contextmanager
def workdir(prefix, keep=False):
    """A temporary folder readable by the cluster's OS user, removed at the end
    unless ``keep``."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        if keep:
            say(f"work folder kept: {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def exit_on_sigterm(name):
    """Turn SIGTERM (``timeout``, a CI cancel) into SystemExit, so that the
    ``finally`` blocks stop Odoo and the cluster."""

    def terminate(signum, _frame):
        raise SystemExit(f"{name} stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminate)


def check_odoo():
    """Exit with a clear message unless PYTHON imports Odoo 18.0."""
    done = subprocess.run(
        [
            PYTHON,
            "-c",
            "import odoo.release as r, sys; sys.exit(r.version_info[0] != 18)",
        ],
        capture_output=True,
        cwd="/",
    )
    if done.returncode:
        sys.exit(
            f"Odoo 18.0 is not importable by {PYTHON} (set ODOO_PYTHON or "
            "ODOO_PATH; setup/test explains what is wrong)"
        )


# ----------------------------------------------------------------------
# PostgreSQL
# ----------------------------------------------------------------------
def pg_bin():
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p)],
    )
    path = os.environ.get("PG_BIN") or (found[-1] if found else "")
    if not os.path.exists(os.path.join(path, "initdb")):
        sys.exit(
            "PostgreSQL binaries not found: set PG_BIN to the folder holding initdb"
        )
    return path


def pg_user():
    """The OS user running the cluster: PostgreSQL refuses to run as root."""
    if os.getuid() != 0:
        return None
    for name in ("postgres", "fi_pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "fi_pg"], check=True)
    return "fi_pg"


#: PostgreSQL settings by durability: "off" for a throwaway cluster (tests,
#: benches), "async" as setup/run (a crash may lose the last commits, never
#: corrupt), "full" as in production
DURABILITY = {
    "off": ("fsync=off", "full_page_writes=off"),
    "async": ("synchronous_commit=off",),
    "full": (),
}


class Cluster:
    """A private PostgreSQL cluster in ``directory`` (as ``fi_pg_start``)."""

    def __init__(self, directory, port=None, durability="off", settings=()):
        self.dir = directory
        self.port = port or free_port()
        self.bin = pg_bin()
        self.user = pg_user()
        self.settings = DURABILITY[durability] + tuple(settings)
        self.pid = None
        self.started = False

    def _as_pg(self, *cmd):
        if self.user:
            cmd = ("runuser", "-u", self.user, "--", *cmd)
        return subprocess.run(cmd, capture_output=True, text=True)

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        if self.user:
            shutil.chown(self.dir, self.user)
        data = os.path.join(self.dir, "data")
        if not os.path.exists(os.path.join(data, "PG_VERSION")):
            done = self._as_pg(
                f"{self.bin}/initdb", "-D", data, "-U", "fi_admin", "--auth=trust",
                "-E", "UTF8",
            )  # fmt: skip
            if done.returncode:
                sys.exit(f"initdb failed:\n{done.stdout}{done.stderr}")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {setting}" for setting in self.settings)
        log = os.path.join(self.dir, "postgres.log")
        done = self._as_pg(
            f"{self.bin}/pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        if done.returncode:
            sys.exit(f"PostgreSQL did not start on port {self.port}, see {log}")
        self.started = True
        with open(os.path.join(data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        self.execute(
            "postgres",
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'odoo')"
            " THEN CREATE ROLE odoo LOGIN CREATEDB; END IF; END $$",
            user="fi_admin",
        )

    def stop(self, mode="fast"):
        if self.started:
            data = os.path.join(self.dir, "data")
            self._as_pg(f"{self.bin}/pg_ctl", "-D", data, "-m", mode, "-w", "stop")
            self.started = False

    def connect(self, db, user="odoo"):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=user, dbname=db)

    def query(self, db, sql, args=(), user="odoo"):
        """Rows of one statement, in its own committed transaction."""
        conn = self.connect(db, user)
        try:
            with conn, conn.cursor() as cr:
                cr.execute(sql, args)
                return cr.fetchall() if cr.description else []
        finally:
            conn.close()

    def scalar(self, db, sql, args=()):
        return self.query(db, sql, args)[0][0]

    def execute(self, db, sql, args=(), user="odoo"):
        """One statement outside a transaction (VACUUM, DO blocks, DDL)."""
        conn = self.connect(db, user)
        try:
            conn.autocommit = True
            with conn.cursor() as cr:
                cr.execute(sql, args)
        finally:
            conn.close()


class DbConf:
    """Queries on the database of an existing Odoo config (the live checks)."""

    def __init__(self, conf, db):
        parser = configparser.ConfigParser()
        parser.read(conf)
        options = parser["options"]
        self.db = db
        self.params = {
            key: options.get(f"db_{key}") or None
            for key in ("host", "port", "user", "password")
            if (options.get(f"db_{key}") or "False") != "False"
        }

    def query(self, sql, args=()):
        import psycopg2

        conn = psycopg2.connect(dbname=self.db, **self.params)
        try:
            with conn, conn.cursor() as cr:
                cr.execute(sql, args)
                return cr.fetchall() if cr.description else []
        finally:
            conn.close()


# ----------------------------------------------------------------------
# Odoo
# ----------------------------------------------------------------------
def new_key():
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def write_config(
    path,
    db_port,
    addons_path=None,
    key=None,
    data_dir=None,
    channels="root:2,root.fi:2",
    **options,
):
    """An Odoo config as setup/_lib.sh ``fi_write_conf`` writes it; the
    repository (and ``setup/bench_addons``) as addons path by default."""
    lines = {
        "db_host": "127.0.0.1",
        "db_port": db_port,
        "db_user": "odoo",
        "db_password": "False",
        "addons_path": addons_path or f"{ROOT},{BENCH_ADDONS}",
        "fi_encryption_keys": key or new_key(),
        "list_db": "False",
    }
    if data_dir:
        lines["data_dir"] = data_dir
    lines.update(options)
    with open(path, "w") as conf:
        conf.write("[options]\n")
        conf.writelines(f"{name} = {value}\n" for name, value in lines.items())
        conf.write(f"\n[queue_job]\nchannels = {channels}\n")
    return path


def derive_config(source, path, sections=None, **options):
    """A copy of the config ``source`` with ``options`` (and whole sections)
    replaced."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(source)
    for name, value in options.items():
        parser["options"][name] = str(value)
    for section, values in (sections or {}).items():
        parser[section] = values
    with open(path, "w") as conf:
        parser.write(conf)
    return path


def odoo_cli(*args, stdin=None, log=None, cwd=None):
    """Run ``setup/_odoo.py ARGS`` to its end; its output, or exit with the
    tail of it when it fails."""
    done = subprocess.run(
        [PYTHON, os.path.join(SETUP, "_odoo.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd or tempfile.gettempdir(),
    )
    if log:
        with open(log, "a") as out:
            out.write(done.stdout + done.stderr)
    if done.returncode:
        sys.exit(
            f"odoo {' '.join(args[:6])} failed:\n"
            f"{done.stdout[-4000:]}{done.stderr[-4000:]}"
        )
    return done.stdout


def odoo_install(conf, db, modules, demo=False, log=None):
    return odoo_cli(
        "server", "-c", conf, "-d", db, "-i", modules,
        *([] if demo else ["--without-demo=all"]),
        "--stop-after-init", "--no-http", "--max-cron-threads=0", "--log-level=warn",
        log=log,
    )  # fmt: skip


def odoo_shell(conf, db, code, log=None):
    """Run ``code`` in ``odoo shell`` (``env`` at hand), committed; its output."""
    return odoo_cli(
        "shell", "-c", conf, "-d", db, "--no-http", "--log-level=warn",
        stdin=code + "\nenv.cr.commit()\n", log=log,
    )  # fmt: skip


class OdooServer:
    """An Odoo server in its own process group (``setup/_odoo.py server``).

    ``queue_job=True`` loads queue_job server-wide (its job runner starts with
    the server, channels from the config); ``args`` are more options
    (``--db-filter``, limits).
    """

    def __init__(
        self,
        conf,
        db,
        workers=2,
        cron_threads=0,
        queue_job=False,
        log_level="warn",
        log=None,
        port=None,
        args=(),
    ):
        self.conf, self.db = conf, db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or f"{conf}.log"
        self.command = [
            PYTHON, os.path.join(SETUP, "_odoo.py"), "server", "-c", conf, "-d", db,
            f"--workers={workers}", f"--max-cron-threads={cron_threads}",
            f"--load=base,web{',queue_job' if queue_job else ''}",
            "--http-interface=127.0.0.1", f"--http-port={self.port}",
            f"--gevent-port={free_port()}", f"--log-level={log_level}", *args,
        ]  # fmt: skip
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, bound=300):
        """Start and wait for evidence that it serves: ``/web/login`` answers
        200. Fails at once when the server exits, after ``bound`` seconds when
        it hangs."""
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=tempfile.gettempdir(),
            )
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline and self.running():
            try:
                with urllib.request.urlopen(self.url + "/web/login", timeout=5) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"Odoo did not start on {self.url}, see {self.log}")

    def kill(self):
        """SIGKILL of the server and all its processes (workers, runner)."""
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, grace=30):
        if self.running():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


class Rpc:
    """XML-RPC as a script or an integration would call Odoo."""

    def __init__(self, url, db, login="admin", password="admin"):
        self.url, self.db, self.login, self.password = url, db, login, password
        self.uid = None

    def call(self, model, method, *args, **kwargs):
        if self.uid is None:
            common = xmlrpc.client.ServerProxy(self.url + "/xmlrpc/2/common")
            self.uid = common.authenticate(self.db, self.login, self.password, {})
        models = xmlrpc.client.ServerProxy(
            self.url + "/xmlrpc/2/object", allow_none=True
        )
        return models.execute_kw(
            self.db, self.uid, self.password, model, method, list(args), kwargs
        )


class JsonRpc:
    """A web client session over JSON-RPC (what the browser does)."""

    def __init__(self, url, db, timeout=300):
        import requests

        self.url, self.db, self.timeout = url, db, timeout
        self.session = requests.Session()
        self.ids = 0

    def call(self, path, params):
        self.ids += 1
        answer = self.session.post(
            self.url + path,
            json={"jsonrpc": "2.0", "method": "call", "id": self.ids, "params": params},
            timeout=self.timeout,
        ).json()
        if answer.get("error"):
            raise RuntimeError(json.dumps(answer["error"])[:2000])
        return answer["result"]

    def call_kw(self, model, method, args, kwargs=None):
        return self.call(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        )

    def login(self, login="admin", password="admin"):
        return self.call(
            "/web/session/authenticate",
            {"db": self.db, "login": login, "password": password},
        )


# ----------------------------------------------------------------------
# signed deliveries (written here, independent from the suite's own code)
# ----------------------------------------------------------------------
def _as_bytes(value):
    return value.encode() if isinstance(value, str) else value


def hmac_signature(body, secret):
    """Generic HMAC: ``sha256=<hex of HMAC-SHA256(secret, body)>``."""
    return (
        "sha256="
        + hmac.new(_as_bytes(secret), _as_bytes(body), hashlib.sha256).hexdigest()
    )


def hmac_headers(body, secret, header="X-Signature"):
    return {"Content-Type": "application/json", header: hmac_signature(body, secret)}


def stripe_signature(body, secret, timestamp=None):
    """Stripe's scheme: ``t=<ts>,v1=<hex of HMAC-SHA256(secret, "<ts>.<body>")>``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{ts}.".encode() + _as_bytes(body)
    return (
        f"t={ts},v1={hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()}"
    )


def stripe_headers(body, secret, timestamp=None):
    return {
        "Content-Type": "application/json",
        "Stripe-Signature": stripe_signature(body, secret, timestamp),
    }


# ----------------------------------------------------------------------
# CPU and kernel counters
# ----------------------------------------------------------------------
def _stat(pid):
    """(ppid, own cpu seconds, waited-for children's cpu seconds) of a process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / TICK
    children = (int(fields[13]) + int(fields[14])) / TICK
    return int(fields[1]), own, children


def tree_cpu(root):
    """CPU seconds used so far by a process, its live children and the
    children it has reaped (Odoo's master, PostgreSQL's postmaster)."""
    top = _stat(root) if root else None
    if top is None:
        return 0.0
    total = top[1] + top[2]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(entry)
            if stat and stat[0] == root:
                total += stat[1]
    return total


def machine_busy():
    """CPU seconds the whole machine spent busy so far (all cores)."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK  # minus idle, iowait


def listen_overflows():
    """Kernel counter: connections dropped because a listen backlog was full."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("ListenOverflows", 0))
    return 0


# ----------------------------------------------------------------------
# the load generator (wrk)
# ----------------------------------------------------------------------
@dataclass
class Request:
    """One request to send; ``ref`` is free for the target (what to look up)."""

    path: str
    body: bytes
    headers: dict
    method: str = "POST"
    ref: str | None = None


@dataclass
class Target:
    """Something to load. ``build(tag, n)`` returns the n-th distinct request
    of the run tagged ``tag`` (a run never sends one request twice);
    ``stored(tag, requests)`` counts what the database holds for that run (so
    that a 2xx without its record counts as lost); ``rate_max``: requests
    prepared per second of a run (more than the target can take)."""

    name: str
    tag: str
    build: object
    stored: object = None
    rate_max: int = 2500


LUA = r"""
local threads = {}
function setup(thread)
  thread:set("file", FILES[NEXT])
  NEXT = NEXT + 1
  table.insert(threads, thread)
end
local reqs, idx = {}, 0
local function unhex(s)
  return (s:gsub("..", function(h) return string.char(tonumber(h, 16)) end))
end
bad, wrapped = 0, 0
function init(args)
  for line in io.lines(file) do
    local method, path, head, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local headers = {}
    for h in unhex(head):gmatch("[^\n]+") do
      local name, value = h:match("^([^:]+): (.*)$")
      headers[name] = value
    end
    reqs[#reqs + 1] = wrk.format(method, path, headers, unhex(body))
  end
end
function request()
  idx = idx + 1
  if idx > #reqs then idx = 1; wrapped = 1 end
  return reqs[idx]
end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local nbad, nwrapped = 0, 0
  for _, t in ipairs(threads) do
    nbad = nbad + t:get("bad")
    nwrapped = nwrapped + t:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bad=%d connect=%d read=%d write=%d " ..
    "timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d wrapped=%d\n",
    summary.requests, summary.duration, nbad, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, nwrapped))
end
"""


def ensure_wrk():
    if not shutil.which("wrk"):
        if os.getuid() == 0 and shutil.which("apt-get"):
            say("installing wrk (apt-get install wrk) ...")
            subprocess.run(
                "apt-get update -qq && apt-get install -y -qq wrk",
                shell=True,
                capture_output=True,
            )
        if not shutil.which("wrk"):
            sys.exit("this bench needs wrk: apt-get install wrk")


class Load:
    """Load ``targets`` on ``server`` with wrk; measures what ``cluster`` and
    the server spend. Results are dicts (see ``run`` and ``combine``)."""

    def __init__(self, server, cluster, targets, work=None, timeout="10s"):
        ensure_wrk()
        self.server, self.cluster = server, cluster
        self.targets = {t.name: t for t in targets}
        self.work = work or tempfile.gettempdir()
        self.timeout = timeout
        self.runs = {}  # (target, level) -> [run, ...] of measure()

    def _write(self, target, tag, level, seconds):
        threads = 1 if level == 1 else 2
        files = [os.path.join(self.work, f"{tag}-{t}.tsv") for t in range(threads)]
        handles = [open(f, "w") for f in files]
        requests = []
        for n in range(target.rate_max * seconds + 200):
            req = target.build(tag, n)
            requests.append(req)
            head = "\n".join(f"{k}: {v}" for k, v in req.headers.items())
            handles[n % threads].write(
                f"{req.method}\t{req.path}\t{head.encode().hex()}\t{req.body.hex()}\n"
            )
        for handle in handles:
            handle.close()
        script = os.path.join(self.work, f"{tag}.lua")
        with open(script, "w") as f:
            f.write("FILES = {" + ", ".join(json.dumps(x) for x in files) + "}\n")
            f.write("NEXT = 1\n" + LUA)
        return script, threads, files, requests

    def run(self, name, level, tag, seconds):
        """One wrk run of ``seconds`` at ``level`` concurrent connections."""
        target = self.targets[name]
        script, threads, files, requests = self._write(target, tag, level, seconds)
        overflow_before = listen_overflows()
        odoo_before = tree_cpu(self.server.pid)
        pg_before = tree_cpu(self.cluster.pid)
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy_before, wall_before = machine_busy(), time.monotonic()
        done = subprocess.run(
            [
                "wrk", "-t", str(threads), "-c", str(level), "-d", f"{seconds}s",
                "--timeout", self.timeout, "-s", script, self.server.url,
            ],
            capture_output=True,
            text=True,
        )  # fmt: skip
        overflows = listen_overflows() - overflow_before
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        odoo_cpu = tree_cpu(self.server.pid) - odoo_before
        pg_cpu = tree_cpu(self.cluster.pid) - pg_before
        wrk_cpu = (usage.ru_utime + usage.ru_stime) - (
            usage_before.ru_utime + usage_before.ru_stime
        )
        busy = machine_busy() - busy_before
        wall = time.monotonic() - wall_before
        for f in [*files, script]:
            os.unlink(f)
        match = re.search(r"^RESULT (.*)$", done.stdout, re.M)
        if done.returncode or not match:
            sys.exit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
        r = {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}
        socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
        result = {
            "target": name,
            "level": level,
            "requests": r["requests"],
            "ok": r["requests"] - r["bad"],
            "errors": r["bad"] + socket_errors,
            "eps": r["requests"] / (r["duration_us"] / 1e6),
            "p50": r["p50_us"] / 1000,
            "p90": r["p90_us"] / 1000,
            "p99": r["p99_us"] / 1000,
            "max": r["max_us"] / 1000,
            "wrapped": r["wrapped"],
            "overflows": overflows,
            "odoo_cpu": odoo_cpu,
            "pg_cpu": pg_cpu,
            # busy CPU of everything else on the machine (other sessions' jobs)
            "other_cpu": max(0.0, busy - odoo_cpu - pg_cpu - wrk_cpu),
            "wall": wall,
        }
        # what the database says about this run (requests in flight when wrk
        # stopped may be stored without being counted)
        stored = target.stored(tag, requests) if target.stored else result["ok"]
        result["stored"] = stored
        result["lost"] = max(0, result["ok"] - stored)
        return result

    def measure(self, levels=(1, 8, 32), rounds=6, seconds=3, warm_seconds=2):
        """Every target at every level: a warm-up run each, then ``rounds``
        measured runs interleaved across the targets (the first target of a
        round rotates), so that each round's targets share the machine's load.
        Prints one line per target and level; returns ``{(target, level):
        combine(runs)}`` (the runs themselves in ``self.runs``)."""
        names = list(self.targets)
        for name in names:  # every worker loads and warms every route
            self.run(name, 8, f"w0{self.targets[name].tag}", warm_seconds)
        results = {}
        for level in levels:
            for name in names:
                self.run(name, level, f"w{level}{self.targets[name].tag}", warm_seconds)
            runs = {name: [] for name in names}
            for n in range(rounds):
                shift = n % len(names)
                for name in names[shift:] + names[:shift]:
                    tag = f"c{level}r{n}{self.targets[name].tag}"
                    runs[name].append(self.run(name, level, tag, seconds))
            for name in names:
                self.runs[name, level] = runs[name]
                r = results[name, level] = combine(runs[name])
                say(
                    f"  c{level:<2} {name:5} {r['eps']:7.1f} events/s  "
                    f"p50 {r['p50']:6.1f} ms  "
                    f"p99 {r['p99']:7.1f} ms  errors {r['errors']}  "
                    f"cpu {r['cpu_ms']:.2f} ms/event  "
                    f"rounds {' '.join(f'{x:.0f}' for x in r['rounds'])}"
                )
        return results

    def paired(self, a, b, level, scale=1.0):
        """Median over the rounds of eps(a) / eps(b) (times ``scale``): rounds
        are adjacent in time, their ratio shares the machine's load."""
        ratios = [
            scale * x["eps"] / y["eps"]
            for x, y in zip(self.runs[a, level], self.runs[b, level], strict=True)
            if y["eps"]
        ]
        return statistics.median(ratios or [0.0])


def combine(runs):
    """Median over the rounds for the rates and percentiles, totals for counts,
    CPU of the server and PostgreSQL per event handled."""
    out = {
        key: statistics.median(r[key] for r in runs)
        for key in ("eps", "p50", "p90", "p99")
    }
    for key in ("requests", "ok", "errors", "stored", "lost", "wrapped", "overflows"):
        out[key] = sum(r[key] for r in runs)
    out["p99_worst"] = max(r["p99"] for r in runs)
    out["max"] = max(r["max"] for r in runs)
    out["rounds"] = [r["eps"] for r in runs]
    handled = max(1, sum(max(r["stored"], r["ok"]) for r in runs))
    out["cpu_ms"] = 1000 * sum(r["odoo_cpu"] + r["pg_cpu"] for r in runs) / handled
    out["pg_cpu_ms"] = 1000 * sum(r["pg_cpu"] for r in runs) / handled
    # cores kept busy by other processes on the machine while this target ran
    out["other_load"] = sum(r["other_cpu"] for r in runs) / sum(r["wall"] for r in runs)
    return out


def table(results, labels=None):
    """The results of ``Load.measure`` as a table, one row per target and level."""
    labels = labels or {}
    say(
        f"{'':21}{'conc':>5}{'events/s':>9}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}"
        f"{'worst p99':>10}{'requests':>9}{'errors':>7}{'stored':>7}{'lost':>5}"
        f"{'cpu ms/ev':>10}{'(pg)':>6}"
    )
    for (name, level), r in sorted(results.items(), key=lambda item: item[0][1]):
        say(
            f"{labels.get(name, name):21}{level:>5}{r['eps']:9.1f}{r['p50']:8.1f}"
            f"{r['p90']:8.1f}{r['p99']:8.1f}{r['p99_worst']:10.1f}{r['requests']:9}"
            f"{r['errors']:7}{r['stored']:7}{r['lost']:5}{r['cpu_ms']:10.2f}"
            f"{r['pg_cpu_ms']:6.2f}"
        )
