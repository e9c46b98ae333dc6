from odoo import fields, models


class FiBenchRow(models.Model):
    _name = "fi.bench.row"
    _description = "Bench row (floor route)"

    name = fields.Char()
