"""Start the Odoo command line (like odoo-bin) from the importable ``odoo``.

Odoo's multi-worker server re-executes ``sys.argv[0]`` to start its websocket
process, so it must be started from a script file, not with ``python -m odoo``.
"""

import odoo

if __name__ == "__main__":
    odoo.cli.main()
