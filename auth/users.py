"""Accounts and kiosk tokens in the system of record; passwords hashed with argon2.

Every change and every sign-in attempt is written to the audit log in the same
transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from auth.roles import GRID_BOUND, STATION_BOUND, Role
from store import audit
from store.db import kiosk_tokens, user_grids, users

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
GRID_CODE = re.compile(r"^[A-Z]{2}-\d{3}$")
MAX_GRIDS = 20  # a grid worker has one to a few grids; more is a mistake
MIN_PASSWORD = 10
ADMIN = "admin"

_hasher = PasswordHasher()
# Verifying against this when the user does not exist costs the same time as a real check.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class UserError(ValueError):
    """A user change that cannot be made (the message says why)."""


class SignIn(StrEnum):
    OK = "ok"
    BAD = "bad"  # unknown user or wrong password: the page does not say which
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class SignInResult:
    status: SignIn
    user: dict[str, Any] | None = None
    locked_until: datetime | None = None


@dataclass
class UserStore:
    """Accounts, lockout and kiosk tokens.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The system of record.
    max_failures : int
        Failed sign-ins in a row that lock the account.
    lockout : datetime.timedelta
        How long a locked account stays locked.
    """

    engine: Engine
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=10)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    known_grids: frozenset[str] = frozenset()  # when given, a grid worker's grids must be among them

    # -- accounts --------------------------------------------------------------

    def create(self, username: str, password: str, role: Role | str, *, station: str | None = None,
               grids: Iterable[str] = (), display_name: str = "", by: str = "system") -> None:
        role = _role(role)
        _check_username(username)
        _check_password(password)
        if role in STATION_BOUND and not station:
            raise UserError(f"a {role.value} needs a station")
        bound = self._check_grids(role, grids)
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.username).where(users.c.username == username)).first():
                raise UserError(f"user {username!r} exists")
            conn.execute(insert(users).values(
                username=username, display_name=display_name[:64], role=role.value, station=station,
                password_hash=_hasher.hash(password), active=True, failed_logins=0, created_at=self.clock()))
            self._bind(conn, username, bound)
            audit.append(conn, by, "user.create", target=username,
                         detail=f"role={role.value} station={station or ''} grids={','.join(bound)}", at=self.clock())

    def grids_of(self, username: str) -> list[str]:
        """The grids a grid worker works, in order."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(user_grids.c.grid).where(user_grids.c.username == username)
                                     .order_by(user_grids.c.grid)).scalars())

    def workers_of(self, grid: str, role: Role = Role.GRID_WORKER) -> list[str]:
        """The active accounts of ``role`` bound to ``grid`` (its grid workers, or its volunteers)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(user_grids.c.username)
                                     .join(users, users.c.username == user_grids.c.username)
                                     .where(user_grids.c.grid == grid, users.c.role == role.value,
                                            users.c.active.is_(True))
                                     .order_by(user_grids.c.username)).scalars())

    def get(self, username: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        return dict(row) if row else None

    def all(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(users).order_by(users.c.username)).mappings()]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def set_password(self, username: str, password: str, by: str) -> None:
        _check_password(password)
        self._change(username, by, "user.password", password_hash=_hasher.hash(password), failed_logins=0,
                     locked_until=None)

    def set_role(self, username: str, role: Role | str, by: str, station: str | None = None,
                 grids: Iterable[str] = ()) -> None:
        role = _role(role)
        if role in STATION_BOUND and not station:
            raise UserError(f"a {role.value} needs a station")
        bound = self._check_grids(role, grids)
        self._change(username, by, "user.role",
                     detail=f"role={role.value} station={station or ''} grids={','.join(bound)}",
                     bind=bound, role=role.value, station=station)

    def set_active(self, username: str, active: bool, by: str) -> None:
        self._change(username, by, "user.enable" if active else "user.disable", active=active)

    def unlock(self, username: str, by: str) -> None:
        self._change(username, by, "user.unlock", failed_logins=0, locked_until=None)

    def ensure_admin(self) -> str | None:
        """Create the administrator on first start; returns its one-time password (else None)."""
        if self.count():
            return None
        password = secrets.token_urlsafe(12)
        self.create(ADMIN, password, Role.ADMIN, display_name="Administrator")
        return password

    # -- signing in --------------------------------------------------------------

    def authenticate(self, username: str, password: str, ip: str = "") -> SignInResult:
        """Check a password; count failures and lock after ``max_failures`` in a row."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == username[:64])).mappings().first()
            if row is None:
                _verify(_DUMMY_HASH, password)
                audit.append(conn, username[:64], "login", outcome=audit.Outcome.REFUSED, detail="unknown user",
                             ip=ip, at=now)
                return SignInResult(SignIn.BAD)
            user = dict(row)
            locked_until = _aware(user["locked_until"])
            if locked_until and locked_until > now:
                audit.append(conn, username, "login", role=user["role"], outcome=audit.Outcome.REFUSED,
                             detail="locked", ip=ip, at=now)
                return SignInResult(SignIn.LOCKED, locked_until=locked_until)
            if not _verify(user["password_hash"], password):
                failures = (0 if locked_until else user["failed_logins"]) + 1
                values: dict[str, Any] = {"failed_logins": failures, "locked_until": None}
                if failures >= self.max_failures:
                    values["locked_until"] = now + self.lockout
                conn.execute(update(users).where(users.c.username == username).values(**values))
                audit.append(conn, username, "login", role=user["role"], outcome=audit.Outcome.REFUSED,
                             detail=f"wrong password ({failures})", ip=ip, at=now)
                if values["locked_until"]:
                    audit.append(conn, username, "user.lockout", role=user["role"], outcome=audit.Outcome.OK,
                                 detail=f"{failures} failures; until {values['locked_until'].isoformat()}",
                                 ip=ip, at=now)
                    return SignInResult(SignIn.LOCKED, locked_until=values["locked_until"])
                return SignInResult(SignIn.BAD)
            if not user["active"]:
                audit.append(conn, username, "login", role=user["role"], outcome=audit.Outcome.REFUSED,
                             detail="disabled", ip=ip, at=now)
                return SignInResult(SignIn.DISABLED)
            conn.execute(update(users).where(users.c.username == username).values(
                failed_logins=0, locked_until=None, last_login_at=now))
            audit.append(conn, username, "login", role=user["role"], ip=ip, at=now)
            return SignInResult(SignIn.OK, user=user)

    # -- kiosk tokens ------------------------------------------------------------

    def issue_kiosk_token(self, label: str, by: str) -> tuple[str, str]:
        """A new token for a big screen: (token_id, token). The token is shown once, only its hash kept."""
        token_id, token = secrets.token_hex(4), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(insert(kiosk_tokens).values(
                token_id=token_id, token_hash=_sha256(token), label=label[:64] or token_id, created_by=by,
                created_at=self.clock()))
            audit.append(conn, by, "kiosk.issue", target=token_id, detail=label[:64], at=self.clock())
        return token_id, token

    def kiosk(self, token: str) -> dict[str, Any] | None:
        """The live (not revoked) token record matching ``token``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(kiosk_tokens).where(
                kiosk_tokens.c.token_hash == _sha256(token), kiosk_tokens.c.revoked_at.is_(None))).mappings().first()
        return dict(row) if row else None

    def kiosk_by_id(self, token_id: str) -> dict[str, Any] | None:
        """The token record if it is live (not revoked)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(kiosk_tokens).where(
                kiosk_tokens.c.token_id == token_id, kiosk_tokens.c.revoked_at.is_(None))).mappings().first()
        return dict(row) if row else None

    def kiosk_tokens(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(kiosk_tokens).order_by(kiosk_tokens.c.created_at.desc())
            return [dict(r) for r in conn.execute(query).mappings()]

    def revoke_kiosk_token(self, token_id: str, by: str) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(update(kiosk_tokens).where(
                kiosk_tokens.c.token_id == token_id, kiosk_tokens.c.revoked_at.is_(None)).values(
                revoked_at=self.clock())).rowcount
            if not changed:
                raise UserError(f"no live kiosk token {token_id!r}")
            audit.append(conn, by, "kiosk.revoke", target=token_id, at=self.clock())

    # -- internals -------------------------------------------------------------

    def _change(self, username: str, by: str, action: str, detail: str = "", bind: list[str] | None = None,
                **values: Any) -> None:
        with self.engine.begin() as conn:
            changed = conn.execute(update(users).where(users.c.username == username).values(**values)).rowcount
            if not changed:
                raise UserError(f"no user {username!r}")
            if bind is not None:
                conn.execute(delete(user_grids).where(user_grids.c.username == username))
                self._bind(conn, username, bind)
            audit.append(conn, by, action, target=username, detail=detail, at=self.clock())

    def _check_grids(self, role: Role, grids: Iterable[str]) -> list[str]:
        """A grid worker's or a volunteer's grids, checked (one at least, known codes); a station officer's are
        optional (a community officer's community, which their scores are judged on); other roles have none."""
        codes = sorted({g.strip().upper() for g in grids if g.strip()})
        if role not in GRID_BOUND and not (role is Role.STATION_OFFICER and codes):
            return []
        if not codes:
            raise UserError(f"a {role.value.replace('_', ' ')} needs at least one grid")
        if len(codes) > MAX_GRIDS:
            raise UserError(f"at most {MAX_GRIDS} grids per {role.value.replace('_', ' ')}")
        unknown = [c for c in codes if not GRID_CODE.match(c) or (self.known_grids and c not in self.known_grids)]
        if unknown:
            raise UserError(f"unknown grid {unknown[0][:16]!r}")
        return codes

    @staticmethod
    def _bind(conn: Connection, username: str, grids: list[str]) -> None:
        if grids:
            conn.execute(insert(user_grids), [{"username": username, "grid": g} for g in grids])


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}") from None


def _check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise UserError("a username is 2-32 characters: lower-case letters, digits, '.', '_' or '-'")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password has at least {MIN_PASSWORD} characters")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
