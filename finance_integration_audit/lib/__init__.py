"""Pure-Python building blocks of finance_integration_audit: no ``import odoo``."""
