# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Provider ``formtest``: everything generic_hmac is not.

- webhooks are form-encoded (``application/x-www-form-urlencoded``);
- they are signed with HMAC-SHA512 over ``<timestamp>:<body>``, base64, in
  ``X-Form-Signature: t=<unix>,s=<base64>``;
- the event id and type are the form fields ``event_id`` and ``kind``;
- outbound requests are form-encoded too, authenticated by ``Authorization:
  Token <credential>`` and keyed by ``X-Request-Key``;
- one provider setting, the API version, falls under change control.

Only hooks of ``fi_endpoint_provider.py`` are overridden, each guarded the same
way; nothing of core is patched.
"""

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, urlencode

from odoo import fields, models

from odoo.addons.finance_integration_core.lib.errors import (
    FiBusinessError,
    FiIgnored,
    SignatureError,
)

PROVIDER = "formtest"
FORM = "application/x-www-form-urlencoded"


def form_signature(secret, timestamp, body):
    mac = hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


class FiEndpoint(models.Model):
    _inherit = "fi.endpoint"

    provider = fields.Selection(
        selection_add=[(PROVIDER, "Form test provider")],
        ondelete={PROVIDER: "cascade"},
    )
    formtest_api_version = fields.Char("API Version", default="2026-01")

    def _fi_provider_config(self):
        if self.provider != PROVIDER:
            return super()._fi_provider_config()
        return {"formtest_tolerance": 300}

    def _fi_accepts_content_type(self, config, media_type):
        if self.provider != PROVIDER:
            return super()._fi_accepts_content_type(config, media_type)
        return media_type == FORM

    def _fi_verify_signature(self, config, body, headers):
        if self.provider != PROVIDER:
            return super()._fi_verify_signature(config, body, headers)
        if not config["secrets"]:
            raise SignatureError("no_secret")
        header = headers.get("X-Form-Signature")
        if not header:
            raise SignatureError("missing_signature")
        parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise SignatureError("bad_timestamp") from None
        if abs(time.time() - timestamp) > config["formtest_tolerance"]:
            raise SignatureError("stale_timestamp")
        given = parts.get("s", "")
        if not any(
            hmac.compare_digest(form_signature(secret, timestamp, body), given)
            for secret in config["secrets"]
        ):
            raise SignatureError("bad_signature")

    def _fi_signature_headers(self, config):
        if self.provider != PROVIDER:
            return super()._fi_signature_headers(config)
        return ("X-Form-Signature",)

    def _fi_parse_body(self, text, content_type):
        if self.provider != PROVIDER or not content_type.startswith(FORM):
            return super()._fi_parse_body(text, content_type)
        try:
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
        except ValueError as err:
            raise ValueError(f"malformed form body: {err}") from None

    def _fi_parse_event(self, config, document):
        if self.provider != PROVIDER:
            return super()._fi_parse_event(config, document)
        return document.get("event_id") or None, document.get("kind") or None

    def _fi_handle_inbound(self, message, document):
        if self.provider != PROVIDER:
            return super()._fi_handle_inbound(message, document)
        if document.get("kind") != "contact.created":
            raise FiIgnored(f"kind {document.get('kind')!r} is not handled")
        if not document.get("name"):
            raise FiBusinessError("the contact has no name", "missing_name")
        return self.env["fi.binding"].get_or_create(
            self,
            "contact",
            document["ref"],
            lambda: self.env["res.partner"].create({"name": document["name"]}),
            message=message,
        )

    def _fi_build_request(self, message, document):
        if self.provider != PROVIDER:
            return super()._fi_build_request(message, document)
        return {
            "method": "POST",
            "url": self._fi_url(message.flow_id.path),
            "body": urlencode(sorted(document.items())).encode(),
            "headers": {
                "Content-Type": FORM,
                "Authorization": f"Token {self._fi_secret('credential')}",
                "X-Request-Key": message.idempotency_key,
                "X-Api-Version": self.formtest_api_version,
            },
        }

    def _fi_governed_fields(self):
        names = super()._fi_governed_fields()
        if self.provider != PROVIDER:
            return names
        return names + ("formtest_api_version",)

    def _fi_test_connection(self):
        if self.provider != PROVIDER:
            return super()._fi_test_connection()
        result = self._fi_request("GET", self._fi_url("ping"), None, {})
        return f"ping answered {result.status}: {result.body.strip()}"


class FiEndpointChange(models.Model):
    _inherit = "fi.endpoint.change"

    formtest_api_version = fields.Char("API Version")
