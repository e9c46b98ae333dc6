from . import fi_exception_ignore_wizard
from . import fi_replay_wizard
from . import fi_value_map_add_wizard
from . import fi_config_export_wizard
