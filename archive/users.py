"""Staff accounts and their collections of articles: the storage side of the web application.

The web layer calls these functions and gets plain dataclasses back (:class:`UserInfo`,
:class:`CollectionInfo`); no ORM object leaves this module. Every function that takes a
``user_id`` acts only on that user's collections: another user's collection looks exactly
like a missing one (``None`` from the getters, :class:`UserError` from the rest), so ids
cannot be probed.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile).
A stored hash made with older parameters is replaced at the next successful login.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.models import Article, Collection, CollectionItem, User
from archive.store import Archive, ArchiveError, utcnow
from archive.text import clean, nfc

USERNAME_RE = re.compile(r"[a-z0-9._-]{3,40}", re.ASCII)
PASSWORD_MIN = 10
# argon2 pre-hashes any length, but a megabyte "password" is a cheap way to make the
# server work; no real passphrase comes near this.
PASSWORD_MAX = 1024
NAME_MAX = 200
# Ids per IN (...) list: under SQLite's old 999-parameter limit, as in archive.store.
_CHUNK = 500

_hasher = PasswordHasher()


class UserError(ArchiveError):
    """A request the caller can correct; ``kind`` lets the web layer pick a status code:
    ``invalid`` (400), ``not_found`` (404), ``conflict`` (409)."""

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str | None
    is_admin: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    owner_id: int
    name: str
    note: str
    created_at: datetime
    updated_at: datetime
    item_count: int


# --- validation -------------------------------------------------------------------------


def normalise_username(username: str) -> str:
    """The stored form of a username: stripped, lower-case."""
    return username.strip().lower()


def _check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise UserError("username must be 3-40 characters: letters a-z, digits, '.', '_' or '-'")
    return name


def _check_password(password: str) -> str:
    # NFC so a Vietnamese passphrase typed on macOS (NFD) matches the one set on Windows.
    password = nfc(password)
    if len(password) < PASSWORD_MIN:
        raise UserError(f"password must be at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise UserError(f"password must be at most {PASSWORD_MAX} characters")
    return password


def _check_name(name: str) -> str:
    name = clean(name)
    if not name:
        raise UserError("collection name must not be empty")
    if len(name) > NAME_MAX:
        raise UserError(f"collection name must be at most {NAME_MAX} characters")
    return name


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _user_info(u: User) -> UserInfo:
    return UserInfo(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        is_admin=bool(u.is_admin),
        created_at=_aware(u.created_at),
        last_login_at=_aware(u.last_login_at),
    )


# --- users ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string, ``$argon2id$…``) of a password that passes the rules."""
    return _hasher.hash(_check_password(password))


@cache
def _dummy_hash() -> str:
    return _hasher.hash("not a password of anyone")


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    archive: Archive,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    is_admin: bool = False,
) -> int:
    """Create an account and return its id; :class:`UserError` on a bad or taken username
    or a weak password."""
    name = _check_username(username)
    hashed = hash_password(password)
    display = clean(display_name) if display_name else None
    if display and len(display) > NAME_MAX:
        raise UserError(f"display name must be at most {NAME_MAX} characters")
    try:
        with archive.session() as s:
            if s.scalar(select(User.id).where(User.username == name)) is not None:
                raise UserError(f"username {name!r} is already taken", "conflict")
            user = User(
                username=name,
                password_hash=hashed,
                display_name=display or None,
                is_admin=is_admin,
                created_at=utcnow(),
            )
            s.add(user)
            s.flush()
            return user.id
    except IntegrityError as exc:  # created by someone else between the check and the insert
        raise UserError(f"username {name!r} is already taken", "conflict") from exc


def set_password(archive: Archive, user_id: int, password: str) -> None:
    """Replace a user's password; :class:`UserError` on a weak one or an unknown user."""
    hashed = hash_password(password)
    with archive.session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise UserError("no such user", "not_found")
        user.password_hash = hashed


def authenticate(archive: Archive, username: str, password: str) -> UserInfo | None:
    """The user whose username and password these are, or ``None``.

    Takes about the same time whether or not the username exists (an unknown one is
    checked against a dummy hash), rehashes a password stored with outdated argon2
    parameters and records the login time.
    """
    name = normalise_username(username)
    password = nfc(password)
    with archive.session() as s:
        user = None
        if USERNAME_RE.fullmatch(name) and len(password) <= PASSWORD_MAX:
            user = s.scalar(select(User).where(User.username == name))
        if user is None:
            _verify(_dummy_hash(), password)
            return None
        if not _verify(user.password_hash, password):
            return None
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = utcnow()
        return _user_info(user)


def get_user(archive: Archive, user_id: int) -> UserInfo | None:
    with archive.session() as s:
        user = s.get(User, user_id)
        return _user_info(user) if user is not None else None


def list_users(archive: Archive) -> list[UserInfo]:
    """All accounts, by username."""
    with archive.session() as s:
        return [_user_info(u) for u in s.scalars(select(User).order_by(User.username))]


# --- collections ------------------------------------------------------------------------


def _owned(s: Session, user_id: int, collection_id: int) -> Collection:
    """The collection if ``user_id`` owns it; otherwise the same error as a missing one."""
    c = s.get(Collection, collection_id)
    if c is None or c.owner_id != user_id:
        raise UserError("no such collection", "not_found")
    return c


def _name_taken(s: Session, user_id: int, name: str, except_id: int | None = None) -> bool:
    stmt = select(Collection.id).where(Collection.owner_id == user_id, Collection.name == name)
    if except_id is not None:
        stmt = stmt.where(Collection.id != except_id)
    return s.scalar(stmt) is not None


def _collection_info(c: Collection, count: int) -> CollectionInfo:
    return CollectionInfo(
        id=c.id,
        owner_id=c.owner_id,
        name=c.name,
        note=c.note or "",
        created_at=_aware(c.created_at),
        updated_at=_aware(c.updated_at),
        item_count=count,
    )


def _counted(user_id: int) -> Select:
    """The user's collections with their item counts (one grouped subquery)."""
    counts = (
        select(CollectionItem.collection_id, func.count().label("n"))
        .group_by(CollectionItem.collection_id)
        .subquery()
    )
    return (
        select(Collection, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.collection_id == Collection.id)
        .where(Collection.owner_id == user_id)
    )


def create_collection(archive: Archive, user_id: int, name: str, note: str = "") -> int:
    """Create an empty collection and return its id; names are unique per user."""
    name = _check_name(name)
    try:
        with archive.session() as s:
            if s.get(User, user_id) is None:
                raise UserError("no such user", "not_found")
            if _name_taken(s, user_id, name):
                raise UserError(f"you already have a collection named {name!r}", "conflict")
            now = utcnow()
            c = Collection(
                owner_id=user_id, name=name, note=nfc(note), created_at=now, updated_at=now
            )
            s.add(c)
            s.flush()
            return c.id
    except IntegrityError as exc:
        raise UserError(f"you already have a collection named {name!r}", "conflict") from exc


def list_collections(archive: Archive, user_id: int) -> list[CollectionInfo]:
    """The user's collections with their item counts, by name."""
    with archive.session() as s:
        rows = s.execute(_counted(user_id).order_by(Collection.name, Collection.id))
        return [_collection_info(c, n) for c, n in rows]


def get_collection(archive: Archive, user_id: int, collection_id: int) -> CollectionInfo | None:
    """The collection, or ``None`` when it does not exist or belongs to another user."""
    with archive.session() as s:
        row = s.execute(_counted(user_id).where(Collection.id == collection_id)).first()
        return _collection_info(*row) if row is not None else None


def rename_collection(archive: Archive, user_id: int, collection_id: int, name: str) -> None:
    name = _check_name(name)
    try:
        with archive.session() as s:
            c = _owned(s, user_id, collection_id)
            if _name_taken(s, user_id, name, except_id=c.id):
                raise UserError(f"you already have a collection named {name!r}", "conflict")
            if c.name != name:
                c.name, c.updated_at = name, utcnow()
    except IntegrityError as exc:
        raise UserError(f"you already have a collection named {name!r}", "conflict") from exc


def set_note(archive: Archive, user_id: int, collection_id: int, note: str) -> None:
    with archive.session() as s:
        c = _owned(s, user_id, collection_id)
        c.note, c.updated_at = nfc(note), utcnow()


def delete_collection(archive: Archive, user_id: int, collection_id: int) -> None:
    """Delete the collection and its items (the articles themselves stay)."""
    with archive.session() as s:
        c = _owned(s, user_id, collection_id)
        # Explicit, so it does not depend on SQLite's foreign_keys pragma or on ORM loading.
        s.execute(delete(CollectionItem).where(CollectionItem.collection_id == c.id))
        s.execute(delete(Collection).where(Collection.id == c.id))


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    return (ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK))


def add_items(
    archive: Archive, user_id: int, collection_id: int, article_ids: Iterable[str]
) -> int:
    """Append articles to the collection in the given order; return how many were new.

    Ids already in the collection (or repeated) are skipped. If any id is not an article,
    :class:`UserError` names them and nothing is added. One transaction, a few queries
    per 500 ids, one bulk insert.
    """
    wanted = list(dict.fromkeys(article_ids))
    with archive.session() as s:
        c = _owned(s, user_id, collection_id)
        if not wanted:
            return 0
        known: set[str] = set()
        for chunk in _chunks(wanted):
            known.update(s.scalars(select(Article.id).where(Article.id.in_(chunk))))
        missing = [a for a in wanted if a not in known]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise UserError(f"not articles of the archive: {shown}")
        have = set(
            s.scalars(select(CollectionItem.article_id).where(CollectionItem.collection_id == c.id))
        )
        new = [a for a in wanted if a not in have]
        if not new:
            return 0
        start = (
            s.scalar(
                select(func.max(CollectionItem.position)).where(
                    CollectionItem.collection_id == c.id
                )
            )
            or 0
        )
        now = utcnow()
        rows = [
            {"collection_id": c.id, "article_id": a, "position": start + i, "added_at": now}
            for i, a in enumerate(new, 1)
        ]
        try:
            s.execute(insert(CollectionItem), rows)
        except IntegrityError as exc:  # a concurrent add of the same ids
            raise UserError("the collection changed meanwhile; try again", "conflict") from exc
        c.updated_at = now
        return len(new)


def remove_items(
    archive: Archive, user_id: int, collection_id: int, article_ids: Iterable[str]
) -> int:
    """Remove articles from the collection; return how many were in it."""
    ids = list(dict.fromkeys(article_ids))
    with archive.session() as s:
        c = _owned(s, user_id, collection_id)
        removed = 0
        for chunk in _chunks(ids):
            result = s.execute(
                delete(CollectionItem).where(
                    CollectionItem.collection_id == c.id, CollectionItem.article_id.in_(chunk)
                )
            )
            removed += result.rowcount
        if removed:
            c.updated_at = utcnow()
        return removed


def collection_article_ids(archive: Archive, user_id: int, collection_id: int) -> list[str]:
    """The collection's article ids in the order they were added."""
    with archive.session() as s:
        c = _owned(s, user_id, collection_id)
        return list(
            s.scalars(
                select(CollectionItem.article_id)
                .where(CollectionItem.collection_id == c.id)
                .order_by(CollectionItem.position)
            )
        )
