# Imported by Odoo as odoo.addons.finance_integration_audit; imported as plain
# finance_integration_audit only for the offline verifier (lib/), which must
# run where Odoo is not installed.
if __name__.startswith("odoo.addons."):
    from . import models
