from . import account
from . import fi_flow
from . import fi_endpoint
from . import fi_endpoint_payments
from . import fi_endpoint_payouts
from . import fi_endpoint_disputes
from . import fi_endpoint_billing
from . import fi_refund_outbound
