# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models


class FiLookupCacheMixin(models.AbstractModel):
    """Configuration read through ormcache'd lookups (endpoint config of the
    webhook intake, flow routing, value maps): any change clears the registry
    caches, in every worker (Odoo signals the clearing)."""

    _name = "fi.lookup.cache.mixin"
    _description = "Finance Integration: clears lookup caches on change"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        res = super().write(vals)
        self.env.registry.clear_cache()
        return res

    def unlink(self):
        res = super().unlink()
        self.env.registry.clear_cache()
        return res
