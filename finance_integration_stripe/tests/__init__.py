from . import test_lib
from . import test_payments
from . import test_refunds_payouts
