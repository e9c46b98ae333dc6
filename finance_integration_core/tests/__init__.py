from . import (
    test_exception_queue,
    test_lib,
    test_outbound,
    test_processing,
    test_security,
    test_webhook,
)
from . import (
    test_alerting,
    test_dashboard,
)
