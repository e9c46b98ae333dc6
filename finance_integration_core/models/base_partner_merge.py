# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Odoo's partner merge keeps bindings (and message links) on the survivor."""

from odoo import _, models


class BasePartnerMergeAutomaticWizard(models.TransientModel):
    _inherit = "base.partner.merge.automatic.wizard"

    def _update_reference_fields(self, src_partners, dst_partner):
        """Bindings and messages refer to partners by model and id (a
        Many2oneReference the wizard does not know): point them to the
        surviving partner. An external id keeps its one binding (the unique
        key is the external side); the survivor may end up with several
        external ids, which is the truth after a merge."""
        super()._update_reference_fields(src_partners, dst_partner)
        self.env["fi.binding"]._fi_repoint("res.partner", src_partners, dst_partner)


class FiBinding(models.Model):
    _inherit = "fi.binding"

    def _fi_repoint(self, res_model, src_records, dst_record):
        """Point bindings and message links of ``src_records`` to
        ``dst_record`` (after a merge)."""
        bindings = self.sudo().search(
            [("res_model", "=", res_model), ("res_id", "in", src_records.ids)]
        )
        if bindings:
            summary = ", ".join(
                f"{b.endpoint_id.name} {b.external_type} {b.external_id}"
                for b in bindings
            )
            bindings.write({"res_id": dst_record.id})
            dst_record._message_log(
                body=_(
                    "Finance integration bindings moved here by a merge: %s",
                    summary,
                )
            )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE fi_message SET res_id = %s "
            "WHERE res_model = %s AND res_id = ANY(%s)",
            (dst_record.id, res_model, src_records.ids),
        )
        self.env["fi.message"].invalidate_model(["res_id"])
        return bindings
