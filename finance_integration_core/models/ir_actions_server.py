# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, models
from odoo.exceptions import UserError

from ..lib.errors import FiBusinessError, FiTransientError


# safe_eval re-raises UserError subclasses untouched (it wraps anything else
# into a ValueError), so the errors offered to server actions are both.
class FiTransientActionError(FiTransientError, UserError):
    """Raised by a flow's server action to ask for a retry with backoff."""


class FiBusinessActionError(FiBusinessError, UserError):
    """Raised by a flow's server action to open a finance exception."""


class IrActionsServer(models.Model):
    _inherit = "ir.actions.server"

    @api.model
    def _get_eval_context(self, action=None):
        """Let flow server actions ask for a retry or open a finance exception,
        read the message's parsed payload and bind what they create."""
        context = super()._get_eval_context(action=action)
        if action and action.model_id.model == "fi.message":
            context.update(
                FiTransientError=FiTransientActionError,
                FiBusinessError=FiBusinessActionError,
                document=self.env.context.get("fi_document"),
                bindings=self.env["fi.binding"],
            )
        return context
