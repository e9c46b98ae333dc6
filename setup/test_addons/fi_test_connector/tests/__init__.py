from . import test_connector_contract
