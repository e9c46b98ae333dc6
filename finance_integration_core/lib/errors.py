"""Error classes that decide what happens to a failing message.

A *transient* error is retried with backoff (lock, timeout, 5xx, 429, an object
that is not there yet because events came out of order). A *business* error is
never retried blindly: it opens an item in the finance exception queue.
"""


class FiError(Exception):
    """Base class of the suite's classified errors."""

    category = "technical"
    retryable = False

    def __init__(self, message, reason_code=None, retry_after=None):
        super().__init__(message)
        self.reason_code = reason_code or self.default_reason_code
        self.retry_after = retry_after

    default_reason_code = "error"


class FiTransientError(FiError):
    """Retry later: the same input may succeed once the other side recovers."""

    retryable = True
    default_reason_code = "transient"


class FiBusinessError(FiError):
    """Finance must look at it: retrying the same input cannot succeed."""

    category = "business"
    default_reason_code = "business_rule"


class SignatureError(Exception):
    """A webhook failed authentication; ``reason`` is a short machine code."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class FiMissingMappingError(FiBusinessError):
    """A value map has no entry for an external code.

    Carries the map and the code so that the exception queue can offer to add
    the mapping and replay the message.
    """

    default_reason_code = "missing_mapping"

    def __init__(self, message, map_id=None, external_code=None):
        super().__init__(message)
        self.map_id = map_id
        self.external_code = external_code


class FiIgnored(Exception):
    """Not this connector's business: the message is marked ignored, with the
    reason, instead of failing (a sender keeps getting its 2xx)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason
