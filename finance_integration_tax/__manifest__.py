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
    "depends": ["account", "account_edi_ubl_cii", "finance_integration_core"],
    "external_dependencies": {"python": ["lxml", "saxonche", "factur-x"]},
    "data": [
        "security/ir.model.access.csv",
        "security/fi_tax_security.xml",
        "data/fi_tax_data.xml",
        "views/fi_einvoice_views.xml",
        "views/fi_tax_exemption_views.xml",
        "views/account_move_views.xml",
        "views/res_company_views.xml",
        "views/fi_endpoint_views.xml",
        "views/res_partner_views.xml",
        "views/menus.xml",
    ],
}
