# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, fields, models
from odoo.exceptions import UserError


class IrAttachment(models.Model):
    _inherit = "ir.attachment"

    fi_legal_archive = fields.Boolean(
        "Legal Archive",
        readonly=True,
        copy=False,
        help="A submitted or cleared e-invoice: kept unchanged, never deleted "
        "(payload retention does not touch attachments).",
    )

    def _fi_check_legal(self, what):
        if self.env.context.get("fi_einvoice_internal"):
            return
        legal = self.sudo().filtered("fi_legal_archive")
        if legal:
            raise UserError(
                _(
                    "%(name)s is an e-invoice of legal value: it cannot be %(what)s.",
                    name=legal[0].name,
                    what=what,
                )
            )

    def write(self, vals):
        if {
            "datas",
            "raw",
            "db_datas",
            "store_fname",
            "res_id",
            "res_model",
            "fi_legal_archive",
        } & set(vals):
            self._fi_check_legal(_("changed"))
        return super().write(vals)

    def unlink(self):
        self._fi_check_legal(_("deleted"))
        return super().unlink()
