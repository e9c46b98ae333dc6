# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration: Bank Statements",
    "summary": "CAMT.053, MT940, OFX and CSV statements with integrity and continuity "
    "checks and reconciliation",
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
