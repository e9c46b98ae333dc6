from . import test_lib
from . import test_import
from . import test_reconcile
from . import test_close
from . import test_batch
