"""Pure-Python building blocks of finance_integration_tax: no ``import odoo``."""
