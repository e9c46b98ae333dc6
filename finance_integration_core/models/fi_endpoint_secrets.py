# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The endpoint's vault: write-only secrets encrypted at rest (MultiFernet),
with a key from the server configuration or the environment, never from the
database; rotation of the webhook secret and of the encryption key."""

import os

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError

from ..lib.crypto import EncryptionKeyError, SecretBox, parse_keys
from .fi_endpoint_environment import KEY_ROTATED_PARAM

#: write-only secret fields -> the column holding their ciphertext
SECRET_FIELDS = {
    "credential": "credential_enc",
    "webhook_secret": "webhook_secret_enc",
    "webhook_secret_next": "webhook_secret_next_enc",
}


def secret_box():
    """The configured encryption keys: server configuration, then environment."""
    value = tools.config.get("fi_encryption_keys") or os.environ.get(
        "FI_ENCRYPTION_KEYS"
    )
    try:
        return SecretBox(parse_keys(value))
    except EncryptionKeyError as err:
        raise UserError(str(err)) from None


class FiEndpointSecrets(models.Model):
    _inherit = "fi.endpoint"

    # -- secrets: write-only inputs, ciphertext readable by no group --
    credential = fields.Char(
        compute="_compute_secret_inputs",
        inverse="_inverse_credential",
        help="API key or token sent to the external system (write-only).",
    )
    webhook_secret = fields.Char(
        compute="_compute_secret_inputs",
        inverse="_inverse_webhook_secret",
        help="Secret the external system signs webhooks with (write-only).",
    )
    webhook_secret_next = fields.Char(
        "Next Webhook Secret",
        compute="_compute_secret_inputs",
        inverse="_inverse_webhook_secret_next",
        help="Second accepted secret while the sender rotates (write-only).",
    )
    credential_enc = fields.Char(
        groups="finance_integration_core.group_fi_vault", copy=False
    )
    webhook_secret_enc = fields.Char(
        groups="finance_integration_core.group_fi_vault", copy=False
    )
    webhook_secret_next_enc = fields.Char(
        groups="finance_integration_core.group_fi_vault", copy=False
    )
    encrypt_payloads = fields.Boolean(
        "Encrypt Payloads at Rest",
        tracking=True,
        help="Webhook bodies are stored encrypted with the suite's keys; they "
        "are decrypted only to process a message and to show it with its "
        "secrets masked. Hashes stay on the plaintext.",
    )
    credential_set = fields.Boolean(readonly=True, copy=False)
    webhook_secret_set = fields.Boolean(readonly=True, copy=False)
    webhook_secret_next_set = fields.Boolean(readonly=True, copy=False)

    def _compute_secret_inputs(self):
        for endpoint in self:
            endpoint.credential = False
            endpoint.webhook_secret = False
            endpoint.webhook_secret_next = False

    @api.model_create_multi
    def create(self, vals_list):
        secrets_list = [
            {name: vals.pop(name) for name in SECRET_FIELDS if vals.get(name)}
            for vals in vals_list
        ]
        endpoints = super().create(vals_list)
        for endpoint, values in zip(endpoints, secrets_list, strict=True):
            for name, value in values.items():
                endpoint._fi_store_secret(name, value)
        return endpoints

    # ------------------------------------------------------------------
    # secrets
    # ------------------------------------------------------------------
    def _fi_store_secret(self, field_name, value):
        column = SECRET_FIELDS[field_name]
        box = secret_box() if value else None
        for endpoint in self.sudo():
            endpoint.write(
                {
                    column: box.encrypt(value) if value else False,
                    f"{field_name}_set": bool(value),
                }
            )

    def _inverse_credential(self):
        for endpoint in self:
            if endpoint.credential:
                endpoint._fi_store_secret("credential", endpoint.credential)

    def _inverse_webhook_secret(self):
        for endpoint in self:
            if endpoint.webhook_secret:
                endpoint._fi_store_secret("webhook_secret", endpoint.webhook_secret)

    def _inverse_webhook_secret_next(self):
        for endpoint in self:
            if endpoint.webhook_secret_next:
                endpoint._fi_store_secret(
                    "webhook_secret_next", endpoint.webhook_secret_next
                )

    def _fi_secret(self, field_name):
        """The decrypted secret, for server-side use only: never sent to a client."""
        self.ensure_one()
        token = self.sudo()[SECRET_FIELDS[field_name]]
        return secret_box().decrypt(token) if token else False

    def action_clear_secret_next(self):
        """End a rotation: forget the second webhook secret."""
        self._fi_store_secret("webhook_secret_next", False)
        return True

    def action_promote_secret_next(self):
        """End a rotation: the next secret becomes the only one."""
        for endpoint in self:
            new = endpoint._fi_secret("webhook_secret_next")
            if not new:
                raise UserError(
                    _(
                        "Endpoint %s has no next webhook secret to promote.",
                        endpoint.name,
                    )
                )
            endpoint._fi_store_secret("webhook_secret", new)
            endpoint._fi_store_secret("webhook_secret_next", False)
        return True

    @api.model
    def _fi_reencrypt_all(self):
        """Re-encrypt every stored secret under the newest configured key."""
        box = secret_box()
        count = 0
        for endpoint in self.sudo().with_context(active_test=False).search([]):
            values = {}
            for column in SECRET_FIELDS.values():
                if endpoint[column]:
                    values[column] = box.rotate(endpoint[column])
                    count += 1
            if values:
                endpoint.write(values)
        self.env["ir.config_parameter"].sudo().set_param(
            KEY_ROTATED_PARAM, fields.Datetime.to_string(fields.Datetime.now())
        )
        return count

    @api.constrains("encrypt_payloads")
    def _check_encrypt_payloads_key(self):
        if any(self.mapped("encrypt_payloads")):
            secret_box()  # a UserError saying how to configure the key

    def action_reencrypt_secrets(self):
        count = self._fi_reencrypt_all()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Secrets re-encrypted"),
                "message": _(
                    "%s secrets are now encrypted with the newest key.", count
                ),
                "type": "success",
            },
        }
