from . import test_lib
