"""Pure-Python core of the audit chain: canonical form, hashing, sealing,
verification, checkpoint signatures and the offline verifier. No Odoo here:
``python -m finance_integration_audit.lib.verify`` runs on an auditor's laptop."""
