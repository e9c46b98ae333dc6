from . import test_lib
from . import test_tax_engine
from . import test_einvoice
