from . import fi_endpoint
