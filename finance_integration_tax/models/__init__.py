from . import res_company
from . import fi_endpoint
from . import fi_message
from . import fi_einvoice
from . import fi_tax_exemption
from . import ir_attachment
from . import account_move
from . import res_partner
