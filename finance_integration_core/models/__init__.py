from . import (
    fi_binding,
    fi_endpoint,
    fi_exception,
    fi_flow,
    fi_idempotency_key,
    fi_message,
    fi_security_event,
    ir_actions_server,
)
from . import fi_message_stat, fi_alert, fi_dashboard
