from . import test_lib
from . import test_payments
from . import test_refunds_payouts
from . import test_webhook_route
from . import test_disputes
from . import test_billing
from . import test_outbound_refund
from . import test_fx
