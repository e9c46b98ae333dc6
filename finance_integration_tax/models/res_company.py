# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    fi_tax_endpoint_id = fields.Many2one(
        "fi.endpoint",
        "Tax Engine",
        domain="[('provider', '=', 'avatax'), ('company_id', '=', id)]",
        help="Customer invoices and credit notes of this company are sent to "
        "this tax engine when they are validated.",
    )
    fi_tax_engine_circuit = fields.Selection(
        related="fi_tax_endpoint_id.circuit_state",
        string="Tax Engine Status",
        help="Closed: the engine is called at validation. Open: it is "
        "unavailable (consecutive failures or timeouts): invoices follow the "
        "engine-down policy without calling it until a probe gets an answer.",
    )
    fi_tax_engine_unavailable_since = fields.Datetime(
        related="fi_tax_endpoint_id.fi_unavailable_since",
        string="Tax Engine Unavailable Since",
    )
    fi_tax_tolerance_amount = fields.Monetary(
        "Tax Tolerance (amount)",
        currency_field="currency_id",
        default=0.01,
        help="A difference between Odoo's and the engine's tax up to this "
        "amount (invoice currency) is accepted.",
    )
    fi_tax_tolerance_percent = fields.Float(
        "Tax Tolerance (%)",
        digits=(5, 3),
        default=0.0,
        help="A difference up to this percentage of Odoo's tax is accepted.",
    )
    fi_tax_mismatch_policy = fields.Selection(
        [("apply", "Apply the engine's result"), ("block", "Block validation")],
        "Tax Difference Policy",
        default="apply",
        required=True,
    )
    fi_tax_unavailable_policy = fields.Selection(
        [
            ("block", "Block validation"),
            ("queue", "Hold as tax pending, validate when the engine answers"),
            ("contingency", "Validate with Odoo's taxes (provisional)"),
        ],
        "Tax Engine Down Policy",
        default="queue",
        required=True,
    )
    fi_tax_max_hold_hours = fields.Integer(
        "Max Tax Pending Hold (h)",
        default=4,
        help="An invoice held as tax pending longer than this is escalated to "
        "finance (an exception); it keeps being retried.",
    )
    fi_clearance_endpoint_id = fields.Many2one(
        "fi.endpoint",
        "Clearance Platform",
        domain="[('provider', '=', 'clearance'), ('company_id', '=', id)]",
    )
    fi_clearance_unavailable_policy = fields.Selection(
        [
            ("block", "Block validation"),
            ("queue", "Queue, retry, escalate after the max hold"),
            ("later", "Submit later (scheduled)"),
        ],
        "Clearance Down Policy",
        default="queue",
        required=True,
    )
    fi_clearance_max_hold_hours = fields.Integer("Max Clearance Hold (h)", default=24)
    fi_clearance_ack_hours = fields.Integer(
        "Acknowledgement Deadline (h)",
        default=4,
        help="A document still 'submitted' (not received) after this opens an "
        "exception.",
    )
