"""Pure-Python building blocks of finance_integration_bank: no ``import odoo``."""
