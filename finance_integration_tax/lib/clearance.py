"""The clearance platform contract (generic REST) and the document lifecycle.

Contract (documented in readme/USAGE.md):

- ``POST {base}/documents`` with JSON ``{"number", "version", "format",
  "sha256", "document" (base64 UBL)}`` and the header ``Idempotency-Key:
  <number>:v<version>:<sha256>``; answers ``201``/``200`` ``{"id", "status"}``.
  The same key twice answers the first document: never a second one.
- ``GET {base}/documents/{id}`` answers ``{"id", "status", "reasons": [{"code",
  "message"}], "business_response": {"status", "reason"} | null,
  "updated_at"}``; ``404`` right after a submit means "not ready yet".
- Status webhooks (through core intake, generic HMAC-SHA256 signature):
  ``{"id": <event id>, "type": "document.status", "document_id", "status",
  "reasons", "business_response", "occurred_at"}``.
- Errors: ``422 {"error": {"code", "message", "field"}}`` is a precondition
  the user can fix; ``429``/``5xx``/timeouts are transient; other ``4xx``
  are business errors.

>>> next_state("submitted", "received")
'received'
>>> next_state("cleared", "received") is None   # late, older news
True
>>> next_state("rejected", "submitted")          # a new version starts over
'submitted'
>>> idempotency_key("INV/2026/00001", 2, "ab" * 32)[:22]
'INV/2026/00001:v2:abab'
"""

import base64
from dataclasses import dataclass, field

from .money import dumps, loads

#: platform verdicts, in the order a document goes through them
RANK = {"submitted": 1, "received": 2, "accepted": 3, "cleared": 3, "rejected": 3}
RANK["paid"] = 4
STATES = tuple(RANK)
FINAL_OK = ("accepted", "cleared", "paid")
BUSINESS_RESPONSES = ("accepted", "rejected")

OK = "ok"
NOT_READY = "not_ready"
TRANSIENT = "transient"
PRECONDITION = "precondition"
BUSINESS = "business"

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class ClearanceError(Exception):
    def __init__(self, outcome, message, code=None, field_name=None, status=None):
        super().__init__(message)
        self.outcome = outcome
        self.code = code
        self.field_name = field_name
        self.status = status


@dataclass
class StatusUpdate:
    document_id: str
    status: str
    reasons: list = field(default_factory=list)
    business_status: str = ""
    business_reason: str = ""
    occurred_at: str = ""
    event_id: str = ""


def idempotency_key(number, version, sha256):
    return f"{number}:v{version}:{sha256}"


def next_state(current, new):
    """The state after ``new`` arrives in ``current``; None when it changes
    nothing (a duplicate, or older news arriving late)."""
    if new not in RANK:
        raise ValueError(f"unknown clearance status {new!r}: known are {STATES}")
    if current in (None, "", "draft", "invalid"):
        return new
    if current == "rejected" and new == "submitted":
        return new
    if new == current or RANK[new] <= RANK.get(current, 0):
        return None
    if current == "rejected" and new == "paid":
        return None
    return new


def submit_body(number, version, sha256, xml_bytes, fmt="peppol-bis-billing-3"):
    return dumps(
        {
            "number": number,
            "version": version,
            "format": fmt,
            "sha256": sha256,
            "document": base64.b64encode(xml_bytes).decode("ascii"),
        }
    )


def classify(status, body, what="clearance platform"):
    """Return the JSON answer of a 2xx; raise ClearanceError otherwise."""
    try:
        document = loads(body) if body else {}
    except ValueError:
        document = None
    if 200 <= status < 300:
        if not isinstance(document, dict):
            raise ClearanceError(BUSINESS, f"{what} answered {status}: not JSON")
        return document
    error = document.get("error") if isinstance(document, dict) else None
    error = error if isinstance(error, dict) else {}
    message = error.get("message") or (body or "")[:300]
    code = error.get("code") or f"http_{status}"
    if status in TRANSIENT_STATUSES:
        outcome = TRANSIENT
    elif status == 404:
        outcome = NOT_READY
    elif status == 422:
        outcome = PRECONDITION
    else:
        outcome = BUSINESS
    text = f"{what} answered HTTP {status} {code}: {message}"
    if error.get("field"):
        text += f" (field {error['field']})"
    raise ClearanceError(outcome, text, code, error.get("field"), status)


def parse_status(document, event_id=""):
    """A StatusUpdate from a GET answer or a status webhook."""
    if not isinstance(document, dict):
        raise ValueError("status document is not a JSON object")
    doc_id = document.get("document_id") or (
        document.get("id") if not event_id else None
    )
    status = document.get("status")
    if not doc_id or not status:
        raise ValueError("status document needs a document id and a status")
    if status not in RANK:
        raise ValueError(f"unknown clearance status {status!r}")
    business = document.get("business_response") or {}
    if business and business.get("status") not in BUSINESS_RESPONSES:
        raise ValueError(
            f"unknown business response {business.get('status')!r}: "
            f"known are {BUSINESS_RESPONSES}"
        )
    reasons = [
        f"{r.get('code', '')}: {r.get('message', '')}".strip(": ")
        for r in document.get("reasons") or []
        if isinstance(r, dict)
    ]
    return StatusUpdate(
        document_id=str(doc_id),
        status=status,
        reasons=reasons,
        business_status=business.get("status") or "",
        business_reason=business.get("reason") or "",
        occurred_at=document.get("occurred_at") or document.get("updated_at") or "",
        event_id=event_id,
    )
