from . import fi_bank_import_wizard
from . import fi_bank_match_wizard
