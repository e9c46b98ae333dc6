from . import test_lib
from . import test_append_only
from . import test_chain
from . import test_tamper
from . import test_recording
from . import test_evidence
from . import test_concurrency
from . import test_sealer_job
