from . import fi_demo
