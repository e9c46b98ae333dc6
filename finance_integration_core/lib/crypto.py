"""Encryption at rest of credentials and webhook secrets.

Keys come from the Odoo server configuration (``fi_encryption_keys``) or the
environment (``FI_ENCRYPTION_KEYS``), never from the database: a stolen dump
alone does not reveal a secret. Several comma-separated keys allow rotation:
the first encrypts, all decrypt (:class:`cryptography.fernet.MultiFernet`).
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_HELP = (
    "set fi_encryption_keys in the [options] section of the Odoo configuration "
    "file, or the environment variable FI_ENCRYPTION_KEYS, to one or more "
    'comma-separated Fernet keys (make one with: python3 -c "from '
    'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
)


class EncryptionKeyError(Exception):
    """No usable key, or a token that no configured key opens."""


def parse_keys(value):
    """The list of key strings in a comma-separated configuration value."""
    return [key.strip() for key in (value or "").split(",") if key.strip()]


class SecretBox:
    """Encrypts and decrypts short secrets with the configured keys."""

    def __init__(self, keys):
        if not keys:
            raise EncryptionKeyError("No encryption key is configured: " + KEY_HELP)
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as err:
            raise EncryptionKeyError(
                f"An encryption key is not a valid Fernet key ({err}): " + KEY_HELP
            ) from None

    def encrypt(self, plaintext):
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token):
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise EncryptionKeyError(
                "A stored secret cannot be decrypted with the configured keys: "
                "keep the old key listed after the new one until every secret "
                "is re-encrypted"
            ) from None

    def rotate(self, token):
        """The same secret encrypted under the first (newest) key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise EncryptionKeyError(
                "A stored secret cannot be re-encrypted: no configured key opens it"
            ) from None
