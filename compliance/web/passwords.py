"""Password hashes for the review app's local sign-in: argon2id (argon2-cffi).

argon2 is memory-hard (review-app.md): a stolen store's hashes cost an attacker memory
as well as time per guess. Only the hash reaches the store (`compliance.state.users`).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10


class WeakPassword(ValueError):
    """A password the app will not hash (one Swedish line)."""


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()     # argon2id with the library's current recommended cost


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"lösenordet måste ha minst {MIN_LENGTH} tecken")
    return _hasher().hash(password)


# A hash of a password nobody has: checked when the user does not exist, so that a wrong
# name takes as long as a wrong password and does not tell which names exist.
_DUMMY: list[str] = []


def check_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; a missing hash (an SSO-only user) never matches."""
    hasher = _hasher()
    if not stored_hash:
        if not _DUMMY:
            _DUMMY.append(hasher.hash("ingen användare har detta lösenord"))
        try:
            hasher.verify(_DUMMY[0], password)
        except VerificationError:
            pass
        return False
    try:
        return hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
