# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration: test connector",
    "summary": "A provider defined only for the tests: proves that a connector "
    "plugs into core's provider surface without any change to core",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "Finance Integration Suite",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["finance_integration_core"],
}
