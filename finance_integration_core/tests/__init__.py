from . import (
    test_exception_queue,
    test_lib,
    test_outbound,
    test_processing,
    test_security,
    test_webhook,
)
from . import (
    test_change_control,
    test_endpoint_changes,
    test_flow_schema_versions,
    test_governance_lib,
    test_value_map,
)
