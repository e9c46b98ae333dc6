# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
{
    "name": "Finance Integration bench: bare INSERT webhook (floor)",
    "summary": "Bench-only route doing one INSERT and nothing else: the floor "
    "of any webhook inside Odoo. Used by setup/bench intake; never install it "
    "in a real database.",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "author": "Finance Integration Suite",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["base"],
    "data": ["security/ir.model.access.csv"],
}
