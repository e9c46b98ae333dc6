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
from . import fi_change_log, fi_change_control_mixin
from . import fi_value_map, fi_flow_schema_version, fi_endpoint_change
from . import fi_exception_mapping
