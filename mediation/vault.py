"""Personal data at rest: identity and phone numbers are sealed (Fernet: AES-128-CBC with an HMAC-SHA256) before
they reach the database, and looked up by a keyed digest, never by the clear number.

The key comes from settings (``PII_KEY``: one or more Fernet keys, comma-separated, the first sealing, all
opening, so a key can be rotated) or, on a machine without one, from a file kept in ``var_dir`` (mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE = "pii.key"


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ValueError("PII_KEY must be Fernet keys (32 url-safe base64 bytes each), comma-separated") from exc
        # The digest key is derived from the sealing key: a lookup never needs the clear number stored.
        self._digest_key = hashlib.sha256(b"pingan-pii-digest:" + base64.urlsafe_b64decode(keys[0])).digest()

    @classmethod
    def from_settings(cls, configured: str, var_dir: Path) -> Vault:
        keys = [k.strip() for k in configured.split(",") if k.strip()]
        if keys:
            return cls(keys)
        path = var_dir / KEY_FILE
        var_dir.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(Fernet.generate_key().decode())
        return cls([path.read_text().strip()])

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode() if value else ""

    def open(self, sealed: str) -> str:
        """The clear value; raises ValueError when no configured key opens it."""
        if not sealed:
            return ""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("sealed with a key this installation does not hold") from exc

    def digest(self, value: str) -> str:
        """A keyed digest for finding the same number again (duplicate applications, a household's phones)."""
        return hmac.new(self._digest_key, value.encode(), hashlib.sha256).hexdigest()[:32] if value else ""
