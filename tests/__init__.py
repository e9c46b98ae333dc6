from . import test_suite_install
