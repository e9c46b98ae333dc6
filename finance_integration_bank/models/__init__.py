from . import fi_endpoint
from . import account_journal
from . import fi_bank_statement_file
from . import account_bank_statement
from . import account_bank_statement_line
from . import fi_bank_csv_profile
from . import fi_bank_payment_order
from . import fi_bank_import
