"""Pure-Python building blocks of finance_integration_stripe: no ``import odoo``."""
