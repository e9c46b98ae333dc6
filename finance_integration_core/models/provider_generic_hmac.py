# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Core's own provider, written against the provider surface like any connector:
JSON webhooks signed with HMAC-SHA256 over the body (optionally
``<timestamp>.<body>``), event id and type found by JSON pointers, outbound JSON
with a Bearer credential (the surface's defaults)."""

from odoo import _, fields, models
from odoo.exceptions import UserError

from ..lib.errors import FiError
from ..lib.jsonpointer import resolve_pointer
from ..lib.signature import verify_hmac_sha256

PROVIDER = "generic_hmac"


def hmac_intake_config(endpoint):
    """The intake settings of HMAC-SHA256 signed webhooks, from an endpoint's
    signature fields (this provider's, or another provider's that signs the
    same way: call it from its ``_fi_provider_config``)."""
    return {
        "signature_header": endpoint.signature_header or "X-Signature",
        "signature_encoding": endpoint.signature_encoding or "hex",
        "timestamp_header": endpoint.timestamp_header or None,
        "tolerance": endpoint.timestamp_tolerance,
    }


def verify_hmac_delivery(config, body, headers):
    """Raise ``SignatureError`` unless ``body`` carries a valid HMAC-SHA256
    signature under the settings of :func:`hmac_intake_config`."""
    timestamp = None
    if config["timestamp_header"]:
        timestamp = headers.get(config["timestamp_header"]) or False
    verify_hmac_sha256(
        body,
        headers.get(config["signature_header"]),
        config["secrets"],
        timestamp=timestamp,
        tolerance=config["tolerance"],
        encoding=config["signature_encoding"],
    )


class FiEndpointGenericHmac(models.Model):
    _inherit = "fi.endpoint"

    provider = fields.Selection(
        selection_add=[(PROVIDER, "Generic (HMAC-SHA256 signed JSON)")],
        ondelete={PROVIDER: "cascade"},
        default=PROVIDER,
    )
    signature_header = fields.Char(default="X-Signature", tracking=True)
    signature_encoding = fields.Selection(
        [("hex", "Hexadecimal"), ("base64", "Base64")], default="hex", required=True
    )
    timestamp_header = fields.Char(
        tracking=True,
        help="When set, the sender signs '<timestamp>.<body>' and sends the Unix "
        "timestamp in this header; older messages are refused.",
    )
    timestamp_tolerance = fields.Integer("Timestamp Tolerance (s)", default=300)
    event_id_pointer = fields.Char(
        "Event Id Pointer",
        default="/id",
        help="JSON pointer (RFC 6901) to the event id: the idempotency key.",
    )
    event_type_pointer = fields.Char("Event Type Pointer", default="/type")

    def _fi_provider_config(self):
        if self.provider != PROVIDER:
            return super()._fi_provider_config()
        return dict(
            hmac_intake_config(self),
            event_id_pointer=self.event_id_pointer or None,
            event_type_pointer=self.event_type_pointer or None,
        )

    def _fi_verify_signature(self, config, body, headers):
        if self.provider != PROVIDER:
            return super()._fi_verify_signature(config, body, headers)
        verify_hmac_delivery(config, body, headers)

    def _fi_signature_headers(self, config):
        if self.provider != PROVIDER:
            return super()._fi_signature_headers(config)
        return (config["signature_header"],)

    def _fi_parse_event(self, config, document):
        if self.provider != PROVIDER:
            return super()._fi_parse_event(config, document)
        event_id = event_type = None
        if config["event_id_pointer"]:
            event_id = resolve_pointer(document, config["event_id_pointer"])
        if config["event_type_pointer"]:
            event_type = resolve_pointer(document, config["event_type_pointer"])
        return (
            str(event_id) if event_id not in (None, "") else None,
            str(event_type) if event_type not in (None, "") else None,
        )

    def _fi_governed_fields(self):
        fields_ = super()._fi_governed_fields()
        if self.provider != PROVIDER:
            return fields_
        return fields_ + (
            "signature_header",
            "signature_encoding",
            "timestamp_header",
            "timestamp_tolerance",
            "event_id_pointer",
            "event_type_pointer",
        )

    def _fi_test_connection(self):
        if self.provider != PROVIDER:
            return super()._fi_test_connection()
        if not self.base_url:
            raise UserError(
                _("Endpoint %s has no base URL to test.", self.display_name)
            )
        url = self._fi_url("")
        try:
            result = self._fi_request("GET", url, None, self._fi_outbound_headers(None))
        except FiError as err:
            raise UserError(
                _(
                    "Endpoint %(endpoint)s: %(error)s",
                    endpoint=self.display_name,
                    error=err,
                )
            ) from None
        if result.status >= 500 or result.status in (401, 403):
            raise UserError(
                _(
                    "Endpoint %(endpoint)s: %(url)s answered HTTP %(status)s; check "
                    "the base URL and the credential.",
                    endpoint=self.display_name,
                    url=url,
                    status=result.status,
                )
            )
        return _("%(url)s answered HTTP %(status)s.", url=url, status=result.status)
