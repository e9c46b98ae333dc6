"""Pure-Python building blocks of the suite (no ``import odoo`` here).

Parsers, signature checks, hashing, backoff, redaction, encryption and the one
HTTP client live here so that they are fast, testable alone and shared by every
connector addon.
"""
