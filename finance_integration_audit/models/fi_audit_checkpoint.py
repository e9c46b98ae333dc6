# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Signed checkpoints of the chain head, the public keys that signed them and
the exported segments retention may purge."""

import logging
import os

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError

from ..lib.signing import (
    key_id,
    load_private_key,
    normalize_public_key,
    public_key_b64,
    sign_checkpoint,
)
from .fi_audit_event import AUDIT_API, is_audit_api

_logger = logging.getLogger(__name__)

GUARD_SQL = """
CREATE OR REPLACE FUNCTION fi_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS {table}_guard_row ON {table};
CREATE TRIGGER {table}_guard_row BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION fi_audit_append_only();
DROP TRIGGER IF EXISTS {table}_guard_truncate ON {table};
CREATE TRIGGER {table}_guard_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION fi_audit_append_only();
"""


def signing_key_text():
    """The private signing key from the server configuration (never the
    database): ``fi_audit_signing_key`` in the Odoo config file, else the
    ``FI_AUDIT_SIGNING_KEY`` environment variable."""
    return tools.config.get("fi_audit_signing_key") or os.environ.get(
        "FI_AUDIT_SIGNING_KEY"
    )


def trusted_public_keys():
    """{key_id: base64 public key} that verification trusts: the current
    signing key's and those listed in ``fi_audit_trusted_public_keys`` (keys
    rotated out; space or comma separated). Keys stored in the database are
    not trusted: whoever can write the database could add their own."""
    keys = {}
    text = signing_key_text()
    if text:
        public = public_key_b64(load_private_key(text))
        keys[key_id(public)] = public
    extra = tools.config.get("fi_audit_trusted_public_keys") or os.environ.get(
        "FI_AUDIT_TRUSTED_PUBLIC_KEYS", ""
    )
    for chunk in extra.replace(",", " ").split():
        public = normalize_public_key(chunk)
        keys[key_id(public)] = public
    return keys


class FiAuditAppendOnly(models.AbstractModel):
    _name = "fi.audit.append.only"
    _description = "Finance Integration Audit: append-only rows"

    def _fi_guard_table(self):
        self.env.cr.execute(GUARD_SQL.format(table=self._table))

    @api.model_create_multi
    def create(self, vals_list):
        if not is_audit_api(self.env):
            raise UserError(
                _("%s records are written by the audit chain only.", self._description)
            )
        return super().create(vals_list)

    def write(self, vals):
        raise UserError(_("%s records are append-only.", self._description))

    def unlink(self):
        raise UserError(_("%s records are append-only.", self._description))


class FiAuditCheckpoint(models.Model):
    """The head of a company's chain signed with the server's Ed25519 key."""

    _name = "fi.audit.checkpoint"
    _inherit = ["fi.audit.append.only"]
    _description = "Finance Integration Audit Checkpoint"
    _order = "company_id, sequence desc, id desc"
    _rec_name = "sequence"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    sequence = fields.Integer(required=True, readonly=True, aggregator=False)
    hash = fields.Char(required=True, readonly=True)
    signed_at = fields.Char(required=True, readonly=True)
    key_id = fields.Char("Key ID", required=True, readonly=True, index=True)
    signature = fields.Char(required=True, readonly=True)

    def init(self):
        self._fi_guard_table()

    def _fi_as_dict(self):
        self.ensure_one()
        return {
            "company_id": self.company_id.id,
            "sequence": self.sequence,
            "hash": self.hash,
            "signed_at": self.signed_at,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @api.model
    def _fi_last(self, company_id, before=None):
        domain = [("company_id", "=", company_id)]
        if before is not None:
            domain.append(("sequence", "<", before))
        return self.search(domain, order="sequence desc, id desc", limit=1)

    @api.model
    def _fi_sign_heads(self, companies=None, raise_if_no_key=False):
        """Seal, then sign the chain head of each company that moved since its
        last checkpoint; returns the new checkpoints."""
        text = signing_key_text()
        if not text:
            if raise_if_no_key:
                raise UserError(
                    _(
                        "No audit signing key is configured: set "
                        "fi_audit_signing_key in the Odoo configuration file "
                        "(or FI_AUDIT_SIGNING_KEY in the environment)."
                    )
                )
            _logger.warning("audit checkpoint skipped: no signing key configured")
            return self.browse()
        private = load_private_key(text)
        public = public_key_b64(private)
        self.env["fi.audit.key"]._fi_register(public)
        self.env["fi.audit.event"]._fi_seal()
        events = self.env["fi.audit.event"].sudo()
        companies = companies or self.env["res.company"].sudo().search([])
        self.env.cr.execute("SELECT now() AT TIME ZONE 'UTC'")
        signed_at = self.env.cr.fetchone()[0].isoformat()
        vals_list = []
        for company in companies:
            sequence, head = events._fi_head(company.id)
            last = self._fi_last(company.id)
            if not sequence or (last and last.sequence >= sequence):
                continue
            vals_list.append(
                sign_checkpoint(private, company.id, sequence, head, signed_at)
            )
        return self.sudo().with_context(fi_audit=AUDIT_API).create(vals_list)

    @api.model
    def _cron_fi_checkpoint(self):
        self._fi_sign_heads()

    @api.model
    def action_checkpoint_now(self):
        return self.env["fi.audit.verification"].action_checkpoint_now()


class FiAuditKey(models.Model):
    """A public key that signed checkpoints, kept for verifiers after the
    private key rotated (shown and exported; never trusted from here)."""

    _name = "fi.audit.key"
    _inherit = ["fi.audit.append.only"]
    _description = "Finance Integration Audit Public Key"
    _order = "id desc"
    _rec_name = "key_id"

    key_id = fields.Char("Key ID", required=True, readonly=True, index=True)
    public_key = fields.Char(required=True, readonly=True)
    first_used = fields.Datetime(readonly=True, default=fields.Datetime.now)

    _sql_constraints = [("key_id_uniq", "unique (key_id)", "A key is stored once.")]

    def init(self):
        self._fi_guard_table()

    @api.model
    def _fi_register(self, public):
        kid = key_id(public)
        if not self.sudo().search_count([("key_id", "=", kid)]):
            self.sudo().with_context(fi_audit=AUDIT_API).create(
                {"key_id": kid, "public_key": public}
            )
            for company in self.env["res.company"].sudo().search([]):
                self.env["fi.audit"]._fi_event(
                    "audit.signing_key",
                    f"Checkpoints now signed with key {kid}",
                    company=company,
                    facts={"key_id": kid, "public_key": public},
                )

    @api.model
    def _fi_public_keys(self):
        return {key.key_id: key.public_key for key in self.sudo().search([])}

    def action_export_public_keys(self):
        keys = self.search([]) if not self else self
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": "fi-audit-public-keys.txt",
                    "raw": "".join(f"{k.public_key}\n" for k in keys).encode("ascii"),
                    "mimetype": "text/plain",
                }
            )
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }


class FiAuditSegment(models.Model):
    """A part of a chain exported and signed: retention may purge its rows
    once they are past the company's legal retention."""

    _name = "fi.audit.segment"
    _inherit = ["fi.audit.append.only"]
    _description = "Finance Integration Audit Exported Segment"
    _order = "company_id, to_sequence desc"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, index=True
    )
    from_sequence = fields.Integer(required=True, readonly=True)
    to_sequence = fields.Integer(required=True, readonly=True)
    checkpoint_id = fields.Many2one(
        "fi.audit.checkpoint", required=True, readonly=True, ondelete="restrict"
    )
    attachment_id = fields.Many2one("ir.attachment", readonly=True, ondelete="restrict")
    date = fields.Datetime(readonly=True, default=fields.Datetime.now)

    def init(self):
        self._fi_guard_table()
