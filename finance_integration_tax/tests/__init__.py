from . import test_lib
from . import test_tax_engine
from . import test_tax_amounts
from . import test_engine_circuit
from . import test_einvoice
from . import test_close_and_kpis
