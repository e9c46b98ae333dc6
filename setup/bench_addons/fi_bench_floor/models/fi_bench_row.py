# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class FiBenchRow(models.Model):
    _name = "fi.bench.row"
    _description = "Bench row (floor route)"

    name = fields.Char()
