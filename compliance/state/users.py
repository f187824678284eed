"""Users of the review app and the audit trail of their sign-ins (review-app.md).

Roles: `enhetschef` (a unit head, for the units listed), `samordnare`, `revisor`,
`admin`. This module keeps them; hashing a password (argon2) and checking it is the
review app's, so only a hash ever reaches the store. Every sign-in attempt is appended
with who, when, from where and whether it succeeded: the auditors' trail, and what the
attempt limit counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from ..privacy import contains_personal_number
from .errors import StateError
from .schema import ROLES, sign_ins, user_units, users
from .store import Store

ROLE_LABELS = {"enhetschef": "enhetschef", "samordnare": "samordnare", "revisor": "revisor", "admin": "administratör"}


class UserError(StateError):
    """A user that cannot be added or changed as asked (one Swedish line)."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    units: tuple[str, ...]
    password_hash: str | None
    disabled: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class SignIn:
    user_name: str
    at: dt.datetime
    address: str | None
    success: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise UserError("ange ett användarnamn")
    if len(name) > 200:
        raise UserError("användarnamnet är längre än 200 tecken")
    if contains_personal_number(name):
        raise UserError("användarnamnet får inte innehålla ett personnummer")
    return name


def add_user(store: Store, name: str, role: str, units: Iterable[str] = (),
             password_hash: str | None = None) -> User:
    """A new user; UserError if the name is taken, the role unknown, or a unit head has no unit."""
    name = _check_name(name)
    if role not in ROLES:
        raise UserError(f"okänd roll {role!r}; välj en av: {', '.join(ROLES)}")
    unit_list = sorted({u.strip() for u in units if u and u.strip()})
    if role == "enhetschef" and not unit_list:
        raise UserError("en enhetschef behöver minst en enhet (--unit)")
    with store.write() as conn:
        if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
            raise UserError(f"användaren {name!r} finns redan")
        user_id = conn.execute(insert(users).values(
            name=name, role=role, password_hash=password_hash, disabled=False, created_at=_now(),
        ).returning(users.c.id)).scalar_one()
        if unit_list:
            conn.execute(insert(user_units), [{"user_id": user_id, "unit": u} for u in unit_list])
    found = get_user(store, name)
    assert found is not None
    return found


def get_user(store: Store, name: str) -> User | None:
    with store.read() as conn:
        return _user(conn, name)


def _user(conn: Connection, name: str) -> User | None:
    row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    if row is None:
        return None
    units = conn.execute(select(user_units.c.unit).where(user_units.c.user_id == row["id"])
                         .order_by(user_units.c.unit)).scalars().all()
    return User(row["name"], row["role"], tuple(units), row["password_hash"], row["disabled"], row["created_at"])


def list_users(store: Store) -> list[User]:
    with store.read() as conn:
        names = conn.execute(select(users.c.name).order_by(users.c.name)).scalars().all()
        return [u for u in (_user(conn, n) for n in names) if u is not None]


def _update(store: Store, name: str, **values: object) -> None:
    with store.write() as conn:
        done = conn.execute(update(users).where(users.c.name == name).values(**values)).rowcount
        if not done:
            raise UserError(f"ingen användare {name!r}")


def disable_user(store: Store, name: str) -> None:
    """The user can no longer sign in; their decisions stay."""
    _update(store, name, disabled=True)


def set_password_hash(store: Store, name: str, password_hash: str) -> None:
    _update(store, name, password_hash=password_hash)


def set_units(store: Store, name: str, units: Iterable[str]) -> None:
    """Replace the units a user (a unit head) sees."""
    with store.write() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
        if user_id is None:
            raise UserError(f"ingen användare {name!r}")
        conn.execute(delete(user_units).where(user_units.c.user_id == user_id))
        unit_list = sorted({u.strip() for u in units if u and u.strip()})
        if unit_list:
            conn.execute(insert(user_units), [{"user_id": user_id, "unit": u} for u in unit_list])


def record_sign_in(store: Store, user_name: str, address: str | None, success: bool,
                   at: dt.datetime | None = None) -> None:
    """Append one sign-in attempt (also a failed one, for a name that does not exist)."""
    name = (user_name or "").strip()[:200]
    if contains_personal_number(name):
        name = "[personnummer borttaget]"     # a mistyped personal number never reaches the store
    with store.write() as conn:
        conn.execute(insert(sign_ins).values(user_name=name, at=at or _now(), address=address, success=success))


def failed_sign_ins(store: Store, since: dt.datetime, *, user_name: str | None = None,
                    address: str | None = None) -> int:
    """Failed attempts since a moment, for a user or from an address (the attempt limit)."""
    query = select(func.count()).select_from(sign_ins).where(sign_ins.c.success.is_(False), sign_ins.c.at >= since)
    if user_name is not None:
        query = query.where(sign_ins.c.user_name == user_name)
    if address is not None:
        query = query.where(sign_ins.c.address == address)
    with store.read() as conn:
        return conn.execute(query).scalar_one()


def sign_in_history(store: Store, user_name: str | None = None, limit: int = 1000) -> list[SignIn]:
    """The newest sign-in attempts first (the auditors' view)."""
    query = select(sign_ins).order_by(sign_ins.c.at.desc(), sign_ins.c.id.desc()).limit(limit)
    if user_name is not None:
        query = query.where(sign_ins.c.user_name == user_name)
    with store.read() as conn:
        return [SignIn(r["user_name"], r["at"], r["address"], r["success"]) for r in conn.execute(query).mappings()]


def recent_sign_ins(store: Store, since: dt.datetime, *, user_name: str | None = None,
                    address: str | None = None) -> list[SignIn]:
    """The attempts since a moment, of a user or from an address, newest first (the
    review app's attempt limit needs their times, not only their number)."""
    query = (select(sign_ins).where(sign_ins.c.at >= since)
             .order_by(sign_ins.c.at.desc(), sign_ins.c.id.desc()))
    if user_name is not None:
        query = query.where(sign_ins.c.user_name == user_name)
    if address is not None:
        query = query.where(sign_ins.c.address == address)
    with store.read() as conn:
        return [SignIn(r["user_name"], r["at"], r["address"], r["success"]) for r in conn.execute(query).mappings()]
