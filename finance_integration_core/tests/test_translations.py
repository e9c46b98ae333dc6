# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The shipped i18n/finance_integration_core.pot is current: every term Odoo's
own export finds in the code and views of the installed addon is in it, and it
holds nothing else. Regenerate it with ``setup/pot``."""

import os
from xml.etree import ElementTree

import polib

from odoo.modules.module import get_manifest, get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

MODULE = "finance_integration_core"


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        path = get_module_path(MODULE)
        cls.pot_path = os.path.join(path, "i18n", f"{MODULE}.pot")
        cls.demo_ids = set()
        for name in get_manifest(MODULE).get("demo", []):
            if name.endswith(".xml"):
                tree = ElementTree.parse(os.path.join(path, name))
                cls.demo_ids.update(
                    node.get("id") for node in tree.iter() if node.get("id")
                )

    def exported_terms(self):
        """``{msgid: is_demo}`` as ``--i18n-export --modules`` would write
        them, from this database (which has demo data, the .pot has not)."""
        terms = {}
        reader = TranslationModuleReader(self.env.cr, modules=[MODULE])
        for _module, _type, _name, res_id, source, _value, _comments in reader:
            xmlid = str(res_id).split(".", 1)[-1]
            demo = xmlid in self.demo_ids
            terms[source] = terms.get(source, True) and demo
        return terms

    def test_pot_exists_and_has_the_header_of_an_odoo_export(self):
        self.assertTrue(
            os.path.exists(self.pot_path), f"{self.pot_path} missing: run setup/pot"
        )
        pot = polib.pofile(self.pot_path)
        self.assertIn("Project-Id-Version", pot.metadata)
        self.assertGreater(len(pot), 100)

    def test_every_translatable_term_of_code_and_views_is_in_the_pot(self):
        shipped = {entry.msgid for entry in polib.pofile(self.pot_path)}
        terms = self.exported_terms()
        missing = sorted(
            t for t, demo in terms.items() if not demo and t not in shipped
        )
        self.assertFalse(
            missing,
            f"{len(missing)} term(s) missing from {self.pot_path}, e.g. "
            f"{missing[:5]}: run setup/pot",
        )

    def test_pot_holds_no_term_the_addon_no_longer_has(self):
        terms = self.exported_terms()
        stale = sorted(
            entry.msgid
            for entry in polib.pofile(self.pot_path)
            if entry.msgid and entry.msgid not in terms
        )
        self.assertFalse(
            stale,
            f"{len(stale)} term(s) of {self.pot_path} are gone, e.g. {stale[:5]}: "
            "run setup/pot",
        )
