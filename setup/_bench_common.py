"""Helpers shared by the benches: run Odoo on the bench cluster, talk to it."""

import configparser
import os
import signal
import socket
import subprocess
import sys
import time

import psycopg2
import requests

CONF = os.environ.get("FI_BENCH_CONF", "")
WORK = os.environ.get("FI_BENCH_WORK", "/tmp")
ODOO = [
    sys.executable,
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "_odoo.py"),
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odoo(*args, stdin=None, check=True):
    """Run an Odoo command line to completion; returns its output."""
    done = subprocess.run(
        [*ODOO, *args],
        input=stdin,
        capture_output=True,
        text=True,
    )
    if check and done.returncode:
        sys.exit(
            f"odoo {' '.join(args[:4])} failed:\n"
            f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout + done.stderr


def install(db, modules):
    odoo(
        "server",
        "-c",
        CONF,
        "-d",
        db,
        "-i",
        modules,
        "--without-demo=all",
        "--stop-after-init",
        "--max-cron-threads=0",
        f"--http-port={free_port()}",
        "--log-level=warn",
    )


def shell(db, code):
    """Run Python code in `odoo shell` (env available); returns its stdout."""
    return odoo(
        "shell",
        "-c",
        CONF,
        "-d",
        db,
        "--no-http",
        "--log-level=warn",
        stdin=code + "\nenv.cr.commit()\n",
    )


def db_connect(db):
    parser = configparser.ConfigParser()
    parser.read(CONF)
    options = parser["options"]
    return psycopg2.connect(
        dbname=db,
        host=options["db_host"],
        port=options["db_port"],
        user=options["db_user"],
    )


def sql(db, query, args=()):
    with db_connect(db) as conn, conn.cursor() as cr:
        cr.execute(query, args)
        return cr.fetchall() if cr.description else None


class Server:
    """An Odoo server with --workers=2 on the bench database."""

    def __init__(self, db, workers=2, extra=()):
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(WORK, f"server-{self.port}.log"), "w")
        self.args = [
            # -d without --db-filter: Odoo then skips listing the databases
            # (a new connection to "postgres") on every cookie-less request
            "server",
            "-c",
            CONF,
            "-d",
            db,
            f"--workers={workers}",
            "--max-cron-threads=0",
            f"--http-port={self.port}",
            "--http-interface=127.0.0.1",
            "--log-level=warn",
            "--limit-time-real=1200",
            "--limit-time-cpu=1200",
            "--limit-request=1000000",
            "--load=base,web",
            *extra,
        ]
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [*ODOO, *self.args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/web/login", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        sys.exit(f"Odoo did not start, see {self.log.name}")

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
