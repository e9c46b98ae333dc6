from . import fi_exception_ignore_wizard, fi_replay_wizard
