"""Pure-Python building blocks of finance_integration_tax: no ``import odoo``."""

# the concrete engines register themselves in engine.ENGINES when imported
from . import avatax
