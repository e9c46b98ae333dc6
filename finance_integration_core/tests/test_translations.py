# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The shipped i18n/<addon>.pot of every installed addon of the suite is
current: every term Odoo's own export finds in the code and views of the addon
is in it, and it holds nothing else. Regenerate them with ``setup/pot``."""

import os
from xml.etree import ElementTree

import polib

from odoo.modules.module import get_manifest, get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

#: the suite's addons, each shipping its own .pot (setup/pot writes them)
SUITE = (
    "finance_integration_core",
    "finance_integration_audit",
    "finance_integration_bank",
    "finance_integration_stripe",
    "finance_integration_tax",
)


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        installed = cls.env["ir.module.module"].search(
            [("name", "in", SUITE), ("state", "=", "installed")]
        )
        cls.modules = [name for name in SUITE if name in installed.mapped("name")]

    def pot_path(self, module):
        return os.path.join(get_module_path(module), "i18n", f"{module}.pot")

    def exported_terms(self, module):
        """``{msgid: is_demo}`` as ``--i18n-export --modules`` would write
        them, from this database (which has demo data, the .pot has not)."""
        path = get_module_path(module)
        demo_ids = set()
        for name in get_manifest(module).get("demo", []):
            if name.endswith(".xml"):
                tree = ElementTree.parse(os.path.join(path, name))
                demo_ids.update(
                    node.get("id") for node in tree.iter() if node.get("id")
                )
        terms = {}
        reader = TranslationModuleReader(self.env.cr, modules=[module])
        for _module, _type, _name, res_id, source, _value, _comments in reader:
            xmlid = str(res_id).split(".", 1)[-1]
            demo = xmlid in demo_ids
            terms[source] = terms.get(source, True) and demo
        return terms

    def test_every_installed_addon_of_the_suite_is_checked(self):
        self.assertIn("finance_integration_core", self.modules)

    def test_pot_exists_and_has_the_header_of_an_odoo_export(self):
        for module in self.modules:
            with self.subTest(module=module):
                pot_path = self.pot_path(module)
                self.assertTrue(
                    os.path.exists(pot_path), f"{pot_path} missing: run setup/pot"
                )
                pot = polib.pofile(pot_path)
                self.assertIn("Project-Id-Version", pot.metadata)
                self.assertGreater(len(pot), 10)

    def test_every_translatable_term_of_code_and_views_is_in_the_pot(self):
        for module in self.modules:
            with self.subTest(module=module):
                pot_path = self.pot_path(module)
                shipped = {entry.msgid for entry in polib.pofile(pot_path)}
                terms = self.exported_terms(module)
                missing = sorted(
                    t for t, demo in terms.items() if not demo and t not in shipped
                )
                self.assertFalse(
                    missing,
                    f"{len(missing)} term(s) missing from {pot_path}, e.g. "
                    f"{missing[:5]}: run setup/pot {module}",
                )

    def test_pot_holds_no_term_the_addon_no_longer_has(self):
        for module in self.modules:
            with self.subTest(module=module):
                pot_path = self.pot_path(module)
                terms = self.exported_terms(module)
                stale = sorted(
                    entry.msgid
                    for entry in polib.pofile(pot_path)
                    if entry.msgid and entry.msgid not in terms
                )
                self.assertFalse(
                    stale,
                    f"{len(stale)} term(s) of {pot_path} are gone, e.g. "
                    f"{stale[:5]}: run setup/pot {module}",
                )
