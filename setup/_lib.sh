# shellcheck shell=bash disable=SC2034
# Shared by setup/run, setup/test and the benches: find Odoo, install the
# suite's requirements, run a private PostgreSQL cluster. Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${ODOO_PYTHON:-python3}
PG_BIN=${PG_BIN:-$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
ADDONS="finance_integration_core finance_integration_stripe finance_integration_tax finance_integration_bank finance_integration_audit"

fi_die() { echo "error: $*" >&2; exit 2; }

# Odoo 18.0 must be importable (or ODOO_PATH must point at the folder holding odoo/).
fi_check_odoo() {
    if [ -n "${ODOO_PATH:-}" ]; then
        export PYTHONPATH="$ODOO_PATH${PYTHONPATH:+:$PYTHONPATH}"
    fi
    command -v "$PY" >/dev/null 2>&1 \
        || fi_die "no Python interpreter '$PY' on PATH: install Python 3.11 or set ODOO_PYTHON to the python that has Odoo 18.0."
    local found
    found=$("$PY" -c 'import importlib.util as u; s = u.find_spec("odoo"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null)
    if [ -z "$found" ]; then
        fi_die "Odoo 18.0 is not importable by $PY: put the Odoo 18.0 source on PYTHONPATH (or pip install it) or set ODOO_PATH=/path/to/odoo-18.0 (the folder that holds odoo/); this project never downloads Odoo."
    fi
    # pip-installed OCA addons (queue_job) create site-packages/odoo/addons; an Odoo
    # installed in editable strict mode is then hidden behind that namespace package
    # ("module 'odoo' has no attribute 'cli'")
    local origin
    origin=$("$PY" -c 'import importlib.util as u; print(u.find_spec("odoo").origin)' 2>/dev/null)
    if [ "$origin" = None ]; then
        local source
        source=$("$PY" -c 'import importlib.metadata as m, json; print(json.loads(m.distribution("odoo").read_text("direct_url.json"))["url"].removeprefix("file://"))' 2>/dev/null)
        fi_die "$PY imports odoo as a namespace package ($found, made by pip-installed addons) instead of Odoo itself: reinstall Odoo with $PY -m pip install --no-deps -e ${source:-/path/to/odoo-18.0} --config-settings editable_mode=compat, or set ODOO_PATH=${source:-/path/to/odoo-18.0} (the folder that holds odoo/)."
    fi
    local version
    if ! version=$("$PY" -c 'import odoo.release as r; print(r.version_info[0])' 2>&1); then
        fi_die "Odoo in $found cannot be imported by $PY ($(tail -n 1 <<<"$version")): install its requirements with $PY -m pip install -r $(dirname "$found")/requirements.txt, or set ODOO_PYTHON to the python that runs it."
    fi
    if [ "$version" != 18 ]; then
        fi_die "the Odoo importable by $PY ($found) is version $version, not 18.0: set ODOO_PATH=/path/to/odoo-18.0 (the folder that holds odoo/) or ODOO_PYTHON to a python with Odoo 18.0."
    fi
}

# The suite's Python requirements, installed only when one is missing.
fi_ensure_requirements() {
    if ! "$PY" -c 'import requests, cryptography, jsonschema, sepaxml, mt940, stripe, saxonche, facturx, odoo.addons.queue_job' 2>/dev/null; then
        echo "installing the suite's Python requirements (requirements.txt)"
        "$PY" -m pip install -q -r "$ROOT/requirements.txt" || fi_die "pip could not install requirements.txt"
    fi
}

fi_free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

fi_new_key() {
    "$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'
}

# PostgreSQL refuses to run as root: run the cluster as an unprivileged OS user.
fi_pg_user() {
    if [ "$(id -u)" != 0 ]; then id -un; return; fi
    id postgres >/dev/null 2>&1 && { echo postgres; return; }
    id fi_pg >/dev/null 2>&1 || useradd --system --no-create-home fi_pg
    echo fi_pg
}

fi_as_pg() {
    local user; user=$(fi_pg_user)
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# fi_pg_start DIR PORT [durable]: init (once) and start a cluster in DIR, with role
# "odoo"; FI_PG_STARTED=1 when this call started it (0: it was already running).
# A throwaway cluster runs without fsync; a durable one only commits asynchronously
# (a crash may lose the last transactions, never corrupt the cluster).
fi_pg_start() {
    local dir=$1 port=$2 speed="-c fsync=off -c full_page_writes=off"
    if [ "${3:-}" = durable ]; then speed="-c synchronous_commit=off"; fi
    [ -x "$PG_BIN/initdb" ] || fi_die "PostgreSQL binaries not found (set PG_BIN to the folder holding initdb)"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown "$(fi_pg_user)" "$dir"
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        fi_as_pg "$PG_BIN/initdb" -D "$dir/data" -U fi_admin --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
            || fi_die "initdb failed, see $dir/initdb.log"
    fi
    FI_PG_STARTED=0
    if fi_as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        echo "reusing the PostgreSQL cluster already running in $dir"
    else
        fi_as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 $speed" start >/dev/null \
            || fi_die "PostgreSQL did not start on port $port, see $dir/postgres.log"
        FI_PG_STARTED=1
    fi
    "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U fi_admin -d postgres -qtAc \
        "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'odoo') THEN CREATE ROLE odoo LOGIN CREATEDB; END IF; END \$\$" \
        || fi_die "could not create the database role"
}

fi_pg_stop() {
    local dir=$1
    [ -s "$dir/data/postmaster.pid" ] && fi_as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
    return 0
}

# Odoo module names are folder names: the repository root is the meta-module
# finance_integration whatever the checkout is called, so link it under that name.
fi_addons_dir() {
    local dir=$1
    mkdir -p "$dir"
    ln -sfn "$ROOT" "$dir/finance_integration"
    echo "$dir,$ROOT"
}

# fi_write_conf FILE PORT ADDONS_PATH KEY [EXTRA_OPTION_LINES]
fi_write_conf() {
    cat >"$1" <<CONF
[options]
db_host = 127.0.0.1
db_port = $2
db_user = odoo
db_password = False
addons_path = $3
fi_encryption_keys = $4
list_db = False
${5:-}

[queue_job]
channels = root:2,root.fi:2
CONF
}

# fi_log_filter: the part of an Odoo log a person reads while tests run -- the
# server and test runner lines, the suite's modules loading, every test started,
# and every warning or error with its traceback (the lines that follow it); not
# the access errors that HTTP tests provoke on purpose (odoo.http warnings).
# FI_VERBOSE=1 shows the whole log.
fi_log_filter() {
    if [ "${FI_VERBOSE:-0}" = 1 ]; then cat; return; fi
    awk '
        /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9:,]+ [0-9]+ [A-Z]+ / {
            level = $4; logger = $6
            show = level ~ /^(ERROR|CRITICAL)$/ \
                || (level == "WARNING" && logger != "odoo.http:") \
                || logger ~ /^(odoo|odoo\.service\.server|odoo\.tests\.(result|stats)):$/ \
                || (logger ~ /^odoo\.addons\..*\.tests\./ && $0 !~ /: waiting for threads: /) \
                || (logger == "odoo.modules.loading:" \
                    && $0 ~ /Loading module finance_integration|loading [0-9]+ modules|modules loaded in/)
        }
        show { print; fflush() }
    '
}
