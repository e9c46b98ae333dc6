# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration: Bank Statements",
    "summary": "CAMT.053, MT940, OFX, BAI2 and CSV statements with integrity and "
    "continuity checks, reconciliation, SEPA payment files",
    "version": "18.0.1.1.0",
    "category": "Accounting",
    "website": "https://github.com/finance-integration/finance-integration",
    "author": "Finance Integration Suite",
    "maintainers": ["finance-integration"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "installable": True,
    "depends": ["account", "finance_integration_core"],
    "external_dependencies": {"python": ["lxml", "ofxparse", "sepaxml"]},
    "data": [
        "security/ir.model.access.csv",
        "security/bank_security.xml",
        "data/ir_cron_data.xml",
        "views/menus.xml",
        "views/fi_bank_views.xml",
    ],
}
