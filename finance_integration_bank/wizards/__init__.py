from . import fi_bank_import_wizard
