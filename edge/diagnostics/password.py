"""The page's password as the config holds it: an scrypt hash, never the password.

    scrypt$16384$8$1$<salt, base64>$<key, base64>

`edge-agent hash-password` prints one; `[diagnostics] password_hash` takes it. The cost
parameters travel with the hash, so a stronger setting later still reads older hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

SCHEME: Final = "scrypt"
COST_N: Final = 2**14  # about 50 ms on a laptop core, a few hundred on a Pi: per login try
BLOCK_R: Final = 8
PARALLEL_P: Final = 1
SALT_BYTES: Final = 16
KEY_BYTES: Final = 32
MIN_PASSWORD_CHARS: Final = 8
_MAX_COST_N: Final = 2**20  # what a hash may ask for: beyond it one login try eats the box
_MAXMEM: Final = 256 * 1024 * 1024


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def encode(self) -> str:
        salt = base64.b64encode(self.salt).decode()
        key = base64.b64encode(self.key).decode()
        return f"{SCHEME}${self.n}${self.r}${self.p}${salt}${key}"


def parse_hash(text: str) -> PasswordHash:
    """The hash `text` stands for; ValueError saying what is wrong with it."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("not a hash made by `edge-agent hash-password` (scrypt$N$r$p$salt$key)")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("its cost parameters or its base64 cannot be read") from None
    if n < 2 or n & (n - 1) or n > _MAX_COST_N or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError(f"cost N={n} r={r} p={p} is out of range (N a power of 2 up to 2^20)")
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("its salt or key is too short")
    return PasswordHash(n, r, p, salt, key)


def _derive(password: str, n: int, r: int, p: int, salt: bytes, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=length)


def hash_password(password: str) -> str:
    """A new hash of `password` with a fresh salt; ValueError for a password too short."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, COST_N, BLOCK_R, PARALLEL_P, salt, KEY_BYTES)
    return PasswordHash(COST_N, BLOCK_R, PARALLEL_P, salt, key).encode()


def password_matches(password: str, stored: PasswordHash) -> bool:
    """Whether `password` is the one `stored` was made from (constant-time comparison).
    Blocks for the scrypt work: call it off the event loop."""
    key = _derive(password, stored.n, stored.r, stored.p, stored.salt, len(stored.key))
    return hmac.compare_digest(key, stored.key)
