"""Encryption at rest for personal data (Fernet, with key rotation) and the keyed lookup hash.

`FIELD_ENCRYPTION_KEYS` lists Fernet keys: the first encrypts, every one decrypts, so a new key is
put first and old rows still read; `rotate` re-encrypts a token under the first key.
"""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "decrypt", "encrypt", "lookup_hash", "rotate"]


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a key that is not a valid Fernet key") from exc


@functools.lru_cache(maxsize=8)
def _hash_key(explicit_key: str, secret_key: str) -> bytes:
    if explicit_key:
        return explicit_key.encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"bnpl-pii-lookup").derive(secret_key.encode())


def _fernet() -> MultiFernet:
    return _multi_fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    return _fernet().decrypt(token.encode()).decode()


def rotate(token: str) -> str:
    """Re-encrypt under the first (newest) key; a no-op for empty values."""
    if not token:
        return ""
    return _fernet().rotate(token.encode()).decode()


def lookup_hash(normalized_value: str) -> str:
    """HMAC-SHA256 of a normalized value, for exact-match lookups without decrypting."""
    if not normalized_value:
        return ""
    key = _hash_key(settings.FIELD_HASH_KEY, settings.SECRET_KEY)
    digest = hmac.new(key, normalized_value.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()
