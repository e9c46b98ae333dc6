# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration: Stripe",
    "summary": "Stripe payments, refunds, disputes, payouts, fees and settlement "
    "through the integration platform",
    "version": "18.0.1.0.0",
    "category": "Accounting",
    "website": "https://github.com/finance-integration/finance-integration",
    "author": "Finance Integration Suite",
    "maintainers": ["finance-integration"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "installable": True,
    "depends": ["account", "payment_stripe", "finance_integration_core"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/fi_endpoint_views.xml",
        "views/fi_stripe_backfill_views.xml",
        "views/fi_stripe_payout_views.xml",
        "views/fi_stripe_reconciliation_views.xml",
        "views/menus.xml",
    ],
    "demo": ["demo/stripe_demo.xml"],
}
