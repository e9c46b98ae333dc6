# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration Core",
    "summary": "Governed, replayable exchanges between Odoo and external finance "
    "systems: endpoints, flows, message logs, idempotency, webhooks, "
    "outbound sync with retries, dead letters and an exception queue",
    "version": "18.0.1.0.0",
    "category": "Accounting",
    "website": "https://github.com/finance-integration/finance-integration",
    "author": "Finance Integration Suite",
    "maintainers": ["finance-integration"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "application": False,
    "installable": True,
    "depends": ["base", "mail", "base_automation", "queue_job"],
    "external_dependencies": {
        "python": ["requests", "cryptography", "jsonschema"],
    },
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/ir_cron_data.xml",
        "data/ir_cron_retention.xml",
        "views/fi_message_views.xml",
        "views/fi_exception_views.xml",
        "views/fi_endpoint_views.xml",
        "views/fi_flow_views.xml",
        "views/menus.xml",
        "security/governance_security.xml",
        "security/governance/ir.model.access.csv",
        "views/fi_governance_views.xml",
        "security/dashboard/ir.model.access.csv",
        "security/dashboard/dashboard_security.xml",
        "data/fi_dashboard_cron_data.xml",
        "views/fi_dashboard_views.xml",
    ],
    "demo": [
        "demo/fi_demo.xml",
        "demo/fi_governance_demo.xml",
        "demo/fi_dashboard_demo.xml",
    ],
}
