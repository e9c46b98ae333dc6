from . import test_lib
from . import test_webhook
from . import test_processing
from . import test_outbound
from . import test_exception_queue
from . import test_security
from . import test_retention
from . import test_flow_control
