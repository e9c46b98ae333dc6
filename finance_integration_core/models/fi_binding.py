# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import mute_logger

from .ir_actions_server import FiTransientActionError


class FiBinding(models.Model):
    """External id <-> Odoo record, unique per endpoint, external type and id.

    Every connector posts through a binding: a replay, a redelivery or a
    concurrent worker finds the record already bound and posts nothing twice.
    """

    _name = "fi.binding"
    _description = "Finance Integration Binding"
    _order = "id desc"
    _rec_name = "external_id"

    endpoint_id = fields.Many2one(
        "fi.endpoint", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="endpoint_id.company_id", store=True, index=True, precompute=True
    )
    external_type = fields.Char(required=True, help="e.g. charge, refund, customer")
    external_id = fields.Char(required=True)
    res_model = fields.Char("Odoo Model", required=True, index=True)
    res_id = fields.Many2oneReference(
        "Odoo Record", model_field="res_model", required=True, index=True
    )
    fi_message_id = fields.Many2one(
        "fi.message", "Created By Message", ondelete="set null"
    )

    _sql_constraints = [
        (
            "external_unique",
            "unique(endpoint_id, external_type, external_id)",
            "This external object is already bound to an Odoo record.",
        ),
    ]

    @api.model
    def _fi_find(self, endpoint, external_type, external_id):
        return self.sudo().search(
            [
                ("endpoint_id", "=", endpoint.id),
                ("external_type", "=", external_type),
                ("external_id", "=", str(external_id)),
            ],
            limit=1,
        )

    @api.model
    def to_odoo(self, endpoint, external_type, external_id):
        """The Odoo record bound to an external object, or None."""
        binding = self._fi_find(endpoint, external_type, external_id)
        if not binding:
            return None
        record = self.env[binding.res_model].browse(binding.res_id).exists()
        return record or None

    @api.model
    def to_odoo_many(self, endpoint, external_type, external_ids):
        """``{external id: Odoo record}`` of the bound ones among several
        external objects of one type, in one search (as ``to_odoo`` each)."""
        bindings = self.sudo().search(
            [
                ("endpoint_id", "=", endpoint.id),
                ("external_type", "=", external_type),
                ("external_id", "in", [str(i) for i in external_ids]),
            ]
        )
        found = {}
        for binding in bindings:
            record = self.env[binding.res_model].browse(binding.res_id).exists()
            if record:
                found[binding.external_id] = record
        return found

    @api.model
    def to_external(self, endpoint, record, external_type):
        """The external id of ``record`` on ``endpoint``, or None."""
        binding = self.sudo().search(
            [
                ("endpoint_id", "=", endpoint.id),
                ("external_type", "=", external_type),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
            ],
            limit=1,
        )
        return binding.external_id if binding else None

    @api.model
    def bind(self, endpoint, external_type, external_id, record, message=None):
        """Bind ``record`` to an external object; a concurrent bind of the same
        object raises a transient error (the loser retries and finds it bound)."""
        if not external_id:
            raise UserError(
                _("Cannot bind %s to an empty external id.", record.display_name)
            )
        try:
            # a lost race is expected and handled: not an error in the log
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                return self.sudo().create(
                    {
                        "endpoint_id": endpoint.id,
                        "external_type": external_type,
                        "external_id": str(external_id),
                        "res_model": record._name,
                        "res_id": record.id,
                        "fi_message_id": message.id if message else False,
                    }
                )
        except psycopg2.IntegrityError:
            # also a UserError: flow server actions get it through safe_eval
            raise FiTransientActionError(
                _(
                    "%(type)s %(id)s was bound concurrently; retrying finds it.",
                    type=external_type,
                    id=external_id,
                ),
                "binding_race",
            ) from None

    @api.model
    def get_or_create(self, endpoint, external_type, external_id, create, message=None):
        """The record bound to the external object, creating and binding it with
        ``create()`` the first time only."""
        record = self.to_odoo(endpoint, external_type, external_id)
        if record:
            return record
        record = create()
        self.bind(endpoint, external_type, external_id, record, message=message)
        return record
