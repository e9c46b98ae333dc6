# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration: Tax Engine and E-invoicing",
    "summary": "Tax engine at invoice issue, e-invoicing clearance status, document "
    "immutability and fallback",
    "version": "18.0.1.0.0",
    "category": "Accounting",
    "website": "https://github.com/finance-integration/finance-integration",
    "author": "Finance Integration Suite",
    "maintainers": ["finance-integration"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "installable": True,
    "depends": ["finance_integration_core"],
    "external_dependencies": {"python": ["lxml"]},
    "data": ["views/menus.xml"],
}
