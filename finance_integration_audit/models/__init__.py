from . import fi_audit_event
from . import fi_audit_checkpoint
from . import fi_audit_verification
from . import fi_audit
from . import fi_audit_config
from . import fi_audit_recorders
from . import fi_audit_retention
from . import res_company
