# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..lib.governance import CHANGE_STATES

#: context value letting change control write its own records; a Python
#: object, so no RPC caller can put it in a context
CHANGE_CONTROL = object()


def is_change_control(env):
    return env.context.get("fi_change_control") is CHANGE_CONTROL


class FiChangeLog(models.Model):
    """One row per transition of a governed version, append-only.

    Every change-controlled model (value maps, flow schemas, endpoint
    production settings) records its transitions here through ``_fi_record``,
    the one place the audit addon hooks to chain them.
    """

    _name = "fi.change.log"
    _description = "Finance Integration Change Log"
    _order = "id desc"
    _rec_name = "res_name"

    res_model = fields.Char("Model", required=True, readonly=True, index=True)
    res_id = fields.Many2oneReference(
        "Record", model_field="res_model", required=True, readonly=True, index=True
    )
    res_name = fields.Char("Record Name", readonly=True)
    version = fields.Integer(readonly=True)
    from_state = fields.Selection([*CHANGE_STATES, ("none", "None")], readonly=True)
    to_state = fields.Selection(CHANGE_STATES, required=True, readonly=True)
    user_id = fields.Many2one("res.users", "By", required=True, readonly=True)
    date = fields.Datetime(required=True, readonly=True)
    note = fields.Text(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)

    @api.model
    def _fi_record(self, records, from_state, to_state, note=None):
        """Record one transition of each of ``records``; returns the rows."""
        now = fields.Datetime.now()
        return (
            self.sudo()
            .with_context(fi_change_control=CHANGE_CONTROL)
            .create(
                [
                    {
                        "res_model": record._name,
                        "res_id": record.id,
                        "res_name": record.display_name,
                        "version": record.version,
                        "from_state": from_state or "none",
                        "to_state": to_state,
                        "user_id": self.env.user.id,
                        "date": now,
                        "note": note,
                        "company_id": record.company_id.id
                        if "company_id" in record._fields
                        else False,
                    }
                    for record in records
                ]
            )
        )

    @api.model_create_multi
    def create(self, vals_list):
        if not is_change_control(self.env):
            raise UserError(_("The change log is written by change control only."))
        return super().create(vals_list)

    def write(self, vals):
        raise UserError(_("The change log is append-only: rows cannot be changed."))

    def unlink(self):
        raise UserError(_("The change log is append-only: rows cannot be deleted."))

    def action_open_record(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
