# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration: Audit Chain",
    "summary": "Tamper-evident hash chain over every exchange, posting, exception and "
    "configuration change",
    "version": "18.0.1.0.0",
    "category": "Accounting",
    "website": "https://github.com/finance-integration/finance-integration",
    "author": "Finance Integration Suite",
    "maintainers": ["finance-integration"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "installable": True,
    "depends": ["finance_integration_core", "account", "mail", "queue_job"],
    "external_dependencies": {"python": ["cryptography"]},
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "data/queue_job_data.xml",
        "views/fi_audit_views.xml",
        "views/account_views.xml",
        "views/menus.xml",
    ],
}
