# Imported by Odoo as odoo.addons.finance_integration_core; imported as plain
# finance_integration_core only for its pure lib/ (the audit addon's offline
# verifier hashes with lib/hashing.py where Odoo is not installed).
if __name__.startswith("odoo.addons."):
    from . import controllers
    from . import demo
    from . import models
    from . import wizards
