# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration Suite",
    "summary": "Every exchange with payment gateways, tax engines and banks as a "
    "governed, visible, replayable record inside Odoo",
    "version": "18.0.1.0.0",
    "category": "Accounting",
    "website": "https://github.com/finance-integration/finance-integration",
    "author": "Finance Integration Suite",
    "maintainers": ["finance-integration"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": True,
    "installable": True,
    "depends": [
        "finance_integration_core",
        "finance_integration_stripe",
        "finance_integration_tax",
        "finance_integration_bank",
        "finance_integration_audit",
    ],
}
