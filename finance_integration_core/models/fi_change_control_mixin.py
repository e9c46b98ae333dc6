# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..lib.governance import CHANGE_STATES, TRANSITIONS, next_version
from .fi_change_log import CHANGE_CONTROL, is_change_control

MANAGER_GROUP = "finance_integration_core.group_fi_manager"
#: fields only the state machine writes
CONTROL_FIELDS = {
    "state",
    "version",
    "author_id",
    "contributor_ids",
    "submitted_by_id",
    "submitted_at",
    "approved_by_id",
    "approved_at",
    "activated_by_id",
    "activated_at",
    "rejected_by_id",
    "rejected_at",
}


class FiChangeControlMixin(models.AbstractModel):
    """A governed version: draft -> submitted -> approved -> active.

    The approver must be a Finance Integration Manager who neither wrote nor
    submitted the version (four eyes). Activating a version supersedes the
    subject's active one; a superseded version stays readable and can be
    rolled back to. Every transition is one ``fi.change.log`` row.

    Concrete models set ``_fi_subject_field`` (the record a version belongs
    to, e.g. ``map_id``), ``_fi_content_fields`` (what is frozen once
    submitted) and implement ``_fi_on_activate``.
    """

    _name = "fi.change.control.mixin"
    _description = "Finance Integration Change Control"
    _inherit = ["mail.thread"]
    _order = "version desc, id desc"

    _fi_subject_field = None
    _fi_content_fields = ()

    version = fields.Integer(readonly=True, copy=False, default=0)
    state = fields.Selection(
        CHANGE_STATES,
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        index=True,
        tracking=True,
    )
    author_id = fields.Many2one(
        "res.users",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: self.env.user,
    )
    contributor_ids = fields.Many2many(
        "res.users",
        string="Contributors",
        readonly=True,
        copy=False,
        help="Everyone who wrote part of this version: none of them may approve it.",
    )
    change_note = fields.Text("Reason for the Change", tracking=True)
    submitted_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    submitted_at = fields.Datetime(readonly=True, copy=False)
    approved_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    approved_at = fields.Datetime(readonly=True, copy=False)
    activated_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    activated_at = fields.Datetime(readonly=True, copy=False)
    rejected_by_id = fields.Many2one("res.users", readonly=True, copy=False)
    rejected_at = fields.Datetime(readonly=True, copy=False)
    change_log_count = fields.Integer(compute="_compute_change_log_count")

    def _compute_change_log_count(self):
        counts = dict(
            self.env["fi.change.log"]._read_group(
                [("res_model", "=", self._name), ("res_id", "in", self.ids)],
                ["res_id"],
                ["__count"],
            )
        )
        for version in self:
            version.change_log_count = counts.get(version.id, 0)

    def init(self):
        """At most one active version per subject, even under concurrency."""
        super().init()
        if self._abstract or not self._fi_subject_field:
            return
        self.env.cr.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {self._table}_one_active "
            f"ON {self._table} ({self._fi_subject_field}) WHERE state = 'active'"
        )

    # ------------------------------------------------------------------
    # guards
    # ------------------------------------------------------------------
    def _fi_subject(self):
        return self[self._fi_subject_field]

    def _fi_loading_data(self):
        """Shipped data (module install/update as superuser) may create a
        version directly active: ``_load_records`` sets ``install_mode``."""
        return self.env.su and self.env.context.get("install_mode")

    @api.model_create_multi
    def create(self, vals_list):
        internal = is_change_control(self.env)
        loading = self._fi_loading_data()
        activate_now = []
        for vals in vals_list:
            forbidden = (set(vals) & CONTROL_FIELDS) - {"state"}
            state = vals.get("state", "draft")
            if not internal and (forbidden or state != "draft"):
                if not (loading and state == "active" and not forbidden):
                    raise UserError(
                        _(
                            "A new version starts as a draft; its state and "
                            "approvals change through Submit, Approve and Activate."
                        )
                    )
                vals["state"] = "draft"
                activate_now.append(True)
            else:
                activate_now.append(False)
        records = super().create(vals_list)
        for record, vals in zip(records, vals_list, strict=True):
            values = {}
            if "version" not in vals:
                subject = record._fi_subject()
                siblings = self.search([(self._fi_subject_field, "=", subject.id)])
                values["version"] = next_version(siblings.mapped("version"))
            if not vals.get("contributor_ids"):
                values["contributor_ids"] = [(4, record.author_id.id)]
            record._fi_internal_write(values)
        for record in records:
            self.env["fi.change.log"]._fi_record(
                record, None, record.state, record.change_note or _("Created")
            )
        for record, now in zip(records, activate_now, strict=True):
            if now:
                record._fi_activate(_("Shipped as data: active when installed"))
        return records

    def write(self, vals):
        if not is_change_control(self.env):
            control = set(vals) & CONTROL_FIELDS
            if control:
                raise UserError(
                    _(
                        "%(fields)s of a governed version change through Submit, "
                        "Approve, Activate and Roll Back only.",
                        fields=", ".join(sorted(control)),
                    )
                )
            if set(vals) & set(self._fi_content_fields):
                self._fi_check_editable()
                res = super().write(vals)
                self._fi_add_contributor()
                return res
        return super().write(vals)

    def unlink(self):
        kept = self.filtered(lambda v: v.state not in ("draft", "rejected"))
        if kept and not is_change_control(self.env):
            raise UserError(
                _(
                    "%s was submitted: it stays on record (only drafts and "
                    "rejected versions can be deleted).",
                    kept[0].display_name,
                )
            )
        return super().unlink()

    def _fi_internal_write(self, values):
        return self.with_context(fi_change_control=CHANGE_CONTROL).write(values)

    def _fi_check_editable(self):
        """Content changes only in a draft (change control may amend a
        submitted version, e.g. the add-mapping wizard)."""
        for version in self:
            if version.state != "draft" and not is_change_control(self.env):
                raise UserError(
                    _(
                        "%(version)s is %(state)s: only a draft can be edited. "
                        "Create a new version instead.",
                        version=version.display_name,
                        state=dict(CHANGE_STATES)[version.state],
                    )
                )

    def _fi_add_contributor(self, user=None):
        user = user or self.env.user
        todo = self.filtered(lambda v: user not in v.contributor_ids)
        if todo:
            todo.sudo()._fi_internal_write({"contributor_ids": [(4, user.id)]})

    def _fi_check_manager(self, what):
        if not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(
                _(
                    "%(user)s cannot %(what)s %(version)s: only a Finance "
                    "Integration Manager can.",
                    user=self.env.user.name,
                    what=what,
                    version=", ".join(self.mapped("display_name")),
                )
            )

    def _fi_check_transition(self, action):
        allowed, _target = TRANSITIONS[action]
        done = {
            "submit": _("submitted"),
            "approve": _("approved"),
            "reject": _("rejected"),
            "activate": _("activated"),
            "rollback": _("rolled back to"),
        }[action]
        for version in self:
            if version.state not in allowed:
                raise UserError(
                    _(
                        "%(version)s is %(state)s: it cannot be %(action)s.",
                        version=version.display_name,
                        state=dict(CHANGE_STATES)[version.state],
                        action=done,
                    )
                )

    def _fi_check_two_factor(self, what):
        """Managers approving or activating production settings must use
        two-factor authentication (Odoo's ``auth_totp``) when their company
        requires it (Settings > Finance Integration)."""
        user = self.env.user
        for version in self:
            company = (
                version["company_id"]
                if "company_id" in version._fields and version["company_id"]
                else self.env.company
            )
            if not company.fi_require_2fa:
                continue
            if "totp_enabled" in user._fields and user.totp_enabled:
                continue
            raise UserError(
                _(
                    "%(company)s requires two-factor authentication to %(what)s "
                    "%(version)s: %(user)s must enable it first (Preferences > "
                    "Account Security; Odoo's auth_totp module).",
                    company=company.name,
                    what=what,
                    version=version.display_name,
                    user=user.name,
                )
            )

    def _fi_check_four_eyes(self):
        user = self.env.user
        for version in self:
            involved = version.contributor_ids | version.author_id
            involved |= version.submitted_by_id
            if user in involved:
                raise UserError(
                    _(
                        "Four eyes: %(user)s wrote or submitted %(version)s and "
                        "cannot approve it; another Manager must.",
                        user=user.name,
                        version=version.display_name,
                    )
                )

    # ------------------------------------------------------------------
    # transitions
    # ------------------------------------------------------------------
    def _fi_transition(self, to_state, values=None, note=None):
        for version in self:
            from_state = version.state
            version._fi_internal_write(dict(values or {}, state=to_state))
            self.env["fi.change.log"]._fi_record(version, from_state, to_state, note)

    def action_submit(self):
        self._fi_check_transition("submit")
        self._fi_transition(
            "submitted",
            {
                "submitted_by_id": self.env.user.id,
                "submitted_at": fields.Datetime.now(),
            },
            self.change_note if len(self) == 1 else None,
        )
        return True

    def action_approve(self):
        self._fi_check_manager(_("approve"))
        self._fi_check_transition("approve")
        self._fi_check_four_eyes()
        self._fi_check_two_factor(_("approve"))
        self._fi_transition(
            "approved",
            {"approved_by_id": self.env.user.id, "approved_at": fields.Datetime.now()},
        )
        return True

    def action_reject(self, reason=None):
        self._fi_check_manager(_("reject"))
        self._fi_check_transition("reject")
        self._fi_transition(
            "rejected",
            {"rejected_by_id": self.env.user.id, "rejected_at": fields.Datetime.now()},
            reason,
        )
        return True

    def action_activate(self):
        self._fi_check_manager(_("activate"))
        self._fi_check_transition("activate")
        self._fi_check_two_factor(_("activate"))
        for version in self:
            version._fi_check_can_activate()
            version._fi_activate()
        return True

    def action_rollback(self):
        """Make a superseded version the active one again."""
        self._fi_check_manager(_("roll back to"))
        self._fi_check_transition("rollback")
        self._fi_check_two_factor(_("roll back to"))
        for version in self:
            current = version._fi_current_active()
            version._fi_activate(
                _(
                    "Rollback from %(current)s",
                    current=current.display_name or _("nothing"),
                )
            )
        return True

    def _fi_current_active(self):
        self.ensure_one()
        return self.search(
            [
                (self._fi_subject_field, "=", self._fi_subject().id),
                ("state", "=", "active"),
                ("id", "!=", self.id),
            ]
        )

    def _fi_check_can_activate(self):
        """Hook: refuse an activation that would lose a change."""

    def _fi_activate(self, note=None):
        self.ensure_one()
        previous = self._fi_current_active()
        previous._fi_transition(
            "superseded", note=_("Superseded by %s", self.display_name)
        )
        # the unique index allows one active version: supersede first
        previous.flush_recordset(["state"])
        self._fi_transition(
            "active",
            {
                "activated_by_id": self.env.user.id,
                "activated_at": fields.Datetime.now(),
            },
            note,
        )
        self._fi_on_activate()

    def _fi_on_activate(self):
        """Hook: make this version the one in use."""
        raise NotImplementedError

    def action_open_change_log(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Change Log"),
            "res_model": "fi.change.log",
            "view_mode": "list,form",
            "domain": [("res_model", "=", self._name), ("res_id", "=", self.id)],
        }
