# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class FiFlow(models.Model):
    _inherit = "fi.flow"

    action = fields.Selection(
        selection_add=[("stripe", "Stripe handler")], ondelete={"stripe": "set default"}
    )
