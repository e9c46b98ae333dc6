# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models


class ResCompany(models.Model):
    _inherit = "res.company"

    @api.ondelete(at_uninstall=False)
    def _unlink_except_fi_logged(self):
        self.env["fi.message"].sudo()._fi_check_unreferenced("company_id", self)
