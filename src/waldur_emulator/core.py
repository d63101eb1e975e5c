"""The shared context handlers work in: state, lock, clock, UUIDs, the event bus and lookup helpers."""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import uuid as uuidlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .records import User
from .store import State
from .web import ApiError, Request, bad_request, not_found

if TYPE_CHECKING:
    from .events import EventBus

T = TypeVar("T")
Clock = Callable[[], dt.datetime]
_HEX = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$")


def system_clock() -> dt.datetime:
    """The real time, in UTC."""
    return dt.datetime.now(dt.UTC)


def normalize(value: str) -> str | None:
    """A UUID in any common form as 32 lowercase hex, or None when it is not a UUID."""
    if not _HEX.match(value):
        return None
    try:
        return uuidlib.UUID(value).hex
    except ValueError:
        return None


def slugify(value: str, fallback: str = "item") -> str:
    """A Waldur slug (``^[-a-zA-Z0-9_]+$``) from a display name."""
    slug = re.sub(r"[^-a-zA-Z0-9_]+", "-", value.lower()).strip("-")[:40]
    return slug or fallback


def uuid_from_ref(value: object) -> str | None:
    """The UUID in a reference: a bare UUID or an API URL whose last segment is the UUID."""
    if not isinstance(value, str):
        return None
    return normalize(value.rstrip("/").rsplit("/", 1)[-1])


class Core:
    """One emulated Waldur's state plus the services every handler needs."""

    def __init__(self, *, bus: EventBus, clock: Clock = system_clock, seed: int | None = None) -> None:
        self.state = State()
        self.lock = threading.RLock()
        self.bus = bus
        self.clock = clock
        self._random = random.Random(seed)
        self.after_commit: list[Callable[[], None]] = []
        self.consumer_event_access = False

    def now(self) -> dt.datetime:
        """The current time (injectable for tests)."""
        return self.clock()

    def new_uuid(self) -> str:
        """A fresh UUID4 as 32 hex (deterministic when the emulator was seeded)."""
        return uuidlib.UUID(int=self._random.getrandbits(128), version=4).hex

    def new_token(self) -> str:
        """A fresh 40-character API token key."""
        return f"{self._random.getrandbits(160):040x}"

    def authenticate(self, header: str | None) -> User:
        """The caller of ``Authorization: Token <key>``; 401 otherwise."""
        if not header:
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "token" or not key.strip():
            raise ApiError(401, {"detail": "Authentication credentials were not provided."})
        user_uuid = self.state.tokens.get(key.strip())
        user = self.state.users.get(user_uuid or "")
        if user is None:
            raise ApiError(401, {"detail": "Invalid token."})
        if not user.is_active:
            raise ApiError(401, {"detail": "User inactive or deleted."})
        return user

    def get(self, table: dict[str, T], raw: str, visible: Callable[[T], bool] | None = None) -> T:
        """The record under a path UUID, 404 when unknown or invisible."""
        key = normalize(raw)
        record = table.get(key) if key else None
        if record is None or (visible is not None and not visible(record)):
            raise not_found()
        return record

    def ref(self, body: dict[str, Any], field: str, table: dict[str, T], *, required: bool = True) -> T | None:
        """The record a body field refers to (URL or UUID); 400 when missing or unknown."""
        value = body.get(field)
        if value in (None, ""):
            if required:
                raise bad_request(field, "This field is required.")
            return None
        key = uuid_from_ref(value)
        record = table.get(key) if key else None
        if record is None:
            raise bad_request(field, f'Invalid hyperlink - Object does not exist. "{value}"')
        return record

    def defer(self, action: Callable[[], None]) -> None:
        """Run ``action`` after the request's state change (event publishing happens outside the lock)."""
        self.after_commit.append(action)


def caller(request: Request) -> User:
    """The authenticated user of a request."""
    user = request.user
    assert isinstance(user, User)
    return user


def text(body: dict[str, Any], field: str, *, default: str = "", max_length: int | None = None) -> str:
    """A string body field; 400 when it is not a string or too long."""
    value = body.get(field, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(field, "Not a valid string.")
    if max_length is not None and len(value) > max_length:
        raise bad_request(field, f"Ensure this field has no more than {max_length} characters.")
    return value


def flag(body: dict[str, Any], field: str, default: bool) -> bool:
    """A boolean body field; 400 when it is not a boolean."""
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise bad_request(field, "Must be a valid boolean.")
    return value


def limits_of(body: dict[str, Any], field: str = "limits") -> dict[str, int]:
    """A limits map (component type -> non-negative integer); 400 otherwise."""
    value = body.get(field, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_request(field, 'Expected a dictionary of items but got type "list".')
    out: dict[str, int] = {}
    for key, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise bad_request(field, f"Invalid limit for {key}: a non-negative integer is required.")
        out[str(key)] = int(amount)
    return out
