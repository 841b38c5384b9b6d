"""Encryption at rest and keyed hashing, all derived from the one master key in the settings.

Each purpose gets its own subkey (HKDF with a distinct label), so a key used to sign CSRF tokens
can never decrypt a TOTP secret. Ciphertexts carry the id of the key that sealed them, so a key
rotation can tell old rows from new ones.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

AES_KEY_BYTES = 32
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
KEY_ID_HEX_CHARS = 16


class DecryptionError(Exception):
    """A ciphertext could not be opened: wrong key, wrong owner or tampered data."""


def derive_key(master_key: str, purpose: str) -> bytes:
    """A 256-bit subkey of ``master_key`` for one ``purpose``."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=AES_KEY_BYTES, salt=None, info=purpose.encode())
    return hkdf.derive(master_key.encode())


def key_id(key: bytes) -> str:
    """A short public fingerprint of a key, stored beside what it sealed."""
    return hashlib.sha256(b"provconnect key id:" + key).hexdigest()[:KEY_ID_HEX_CHARS]


@dataclass(frozen=True, slots=True)
class Sealed:
    """A ciphertext (nonce + AES-GCM output) and the id of the key that sealed it."""

    key_id: str
    ciphertext: bytes


class SecretBox:
    """AES-256-GCM with the ciphertext bound to its owner through the associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    def seal(self, plaintext: bytes, *, owner: str) -> Sealed:
        nonce = os.urandom(GCM_NONCE_BYTES)
        return Sealed(self.key_id, nonce + self._aead.encrypt(nonce, plaintext, owner.encode()))

    def open(self, sealed: Sealed, *, owner: str) -> bytes:
        # A row copied onto another user fails here, because the owner is authenticated too.
        if sealed.key_id != self.key_id:
            raise DecryptionError("sealed with another key")
        if len(sealed.ciphertext) < GCM_NONCE_BYTES + GCM_TAG_BYTES:
            raise DecryptionError("ciphertext truncated")
        nonce, body = sealed.ciphertext[:GCM_NONCE_BYTES], sealed.ciphertext[GCM_NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, owner.encode())
        except InvalidTag:
            raise DecryptionError("ciphertext rejected") from None


class Keyed:
    """HMAC-SHA256 under a derived key: fingerprints that a database dump alone cannot test guesses on."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def matches(self, message: str, expected_hex: str) -> bool:
        return hmac.compare_digest(self.digest(message), expected_hex)
