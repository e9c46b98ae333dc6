"""Start the Odoo command line (like odoo-bin) from the importable ``odoo``.

Odoo's multi-worker server re-executes ``sys.argv[0]`` to start its websocket
process, so it must be started from a script file, not with ``python -m odoo``.
"""

import sys

import odoo

if __name__ == "__main__":
    if getattr(odoo, "__file__", None) is None:  # a namespace package, not Odoo
        sys.exit(
            f"{sys.executable} imports odoo as a namespace package "
            f"({', '.join(odoo.__path__)}, made by pip-installed addons) instead of "
            "Odoo itself: reinstall Odoo with pip install --no-deps -e "
            "/path/to/odoo-18.0 --config-settings editable_mode=compat, or set "
            "ODOO_PATH=/path/to/odoo-18.0"
        )
    odoo.cli.main()
