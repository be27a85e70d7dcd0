"""Staff accounts and collections: hashing, login, ownership, item order, bulk adds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import event, func, select

from archive import users
from archive.config import Config
from archive.models import CollectionItem, User
from archive.schema import ArticleItem
from archive.store import Archive
from archive.users import UserError

PASSWORD = "mật khẩu đủ dài"


def article(n: int) -> ArticleItem:
    url = f"http://p.gov.vn/tin-{n}.html"
    return ArticleItem(
        portal="p",
        url=url,
        canonical_url=url,
        title=f"Kế hoạch cải cách hành chính số {n}",
        body="Nội dung bài viết về cải cách hành chính.",
        fetched_at=datetime.now(UTC),
    )


def make_archive(tmp_path, n_articles: int) -> tuple[Archive, list[str]]:
    a = Archive(Config.resolve(tmp_path))
    portal_id = a.upsert_portal(
        "p", name="P", unit="Quận P", base_url="http://p.gov.vn/", family="generic"
    )
    items = [article(n) for n in range(n_articles)]
    a.store_articles(items, portal_id)
    return a, [it.id for it in items]


@pytest.fixture
def world(tmp_path):
    """An archive with five articles and two users, "lan" and "binh"."""
    a, ids = make_archive(tmp_path, 5)
    lan = users.create_user(a, "lan", PASSWORD, display_name="Trần Thị Lan")
    binh = users.create_user(a, "binh", PASSWORD)
    yield a, ids, lan, binh
    a.close()


def stored_hash(archive: Archive, user_id: int) -> str:
    with archive.session() as s:
        return s.get(User, user_id).password_hash


# --- accounts -------------------------------------------------------------------------


def test_password_is_stored_as_argon2id_hash(world):
    a, _ids, lan, _binh = world
    stored = stored_hash(a, lan)
    assert stored != PASSWORD and PASSWORD not in stored
    assert stored.startswith("$argon2id$")


def test_authenticate_right_password(world):
    a, _ids, lan, _binh = world
    user = users.authenticate(a, "lan", PASSWORD)
    assert user is not None and user.id == lan
    assert user.display_name == "Trần Thị Lan" and user.is_admin is False
    assert user.last_login_at is not None and user.last_login_at.tzinfo is not None
    assert users.get_user(a, lan).last_login_at == user.last_login_at


def test_authenticate_username_is_case_insensitive(world):
    a, _ids, lan, _binh = world
    assert users.authenticate(a, " LAN ", PASSWORD).id == lan


def test_authenticate_nfd_password_matches_nfc(world):
    import unicodedata

    a, _ids, lan, _binh = world
    assert users.authenticate(a, "lan", unicodedata.normalize("NFD", PASSWORD)).id == lan


def test_authenticate_wrong_password(world):
    a, _ids, lan, _binh = world
    assert users.authenticate(a, "lan", PASSWORD + "x") is None
    assert users.get_user(a, lan).last_login_at is None


@pytest.mark.parametrize("username", ["chi", "x", "", "tên có dấu", "a" * 41])
def test_authenticate_unknown_user(world, username):
    a, *_ = world
    assert users.authenticate(a, username, PASSWORD) is None


def test_unknown_user_still_pays_for_a_hash(world, monkeypatch):
    a, *_ = world
    verified = []
    real = users._verify
    monkeypatch.setattr(users, "_verify", lambda h, p: verified.append(h) or real(h, p))
    assert users.authenticate(a, "chi", PASSWORD) is None
    assert verified == [users._dummy_hash()]


def test_outdated_hash_is_replaced_at_login(world):
    a, _ids, lan, _binh = world
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with a.session() as s:
        s.get(User, lan).password_hash = weak
    assert users.authenticate(a, "lan", PASSWORD).id == lan
    assert stored_hash(a, lan) != weak
    assert not users._hasher.check_needs_rehash(stored_hash(a, lan))


def test_duplicate_username(world):
    a, *_ = world
    with pytest.raises(UserError, match="already taken") as err:
        users.create_user(a, "Lan", PASSWORD)
    assert err.value.kind == "conflict"


@pytest.mark.parametrize("username", ["ab", "a" * 41, "tên", "has space", "semi;colon"])
def test_bad_username(world, username):
    a, *_ = world
    with pytest.raises(UserError, match="username"):
        users.create_user(a, username, PASSWORD)


def test_weak_password(world):
    a, _ids, lan, _binh = world
    with pytest.raises(UserError, match="at least 10"):
        users.create_user(a, "chi", "ngắn quá")
    with pytest.raises(UserError, match="at least 10"):
        users.set_password(a, lan, "123456789")
    assert users.authenticate(a, "lan", PASSWORD) is not None


def test_set_password(world):
    a, _ids, lan, _binh = world
    users.set_password(a, lan, "một mật khẩu mới")
    assert users.authenticate(a, "lan", PASSWORD) is None
    assert users.authenticate(a, "lan", "một mật khẩu mới").id == lan
    with pytest.raises(UserError):
        users.set_password(a, 999, "một mật khẩu mới")


def test_get_and_list_users(world):
    a, _ids, lan, binh = world
    admin = users.create_user(a, "admin", PASSWORD, is_admin=True)
    assert [u.username for u in users.list_users(a)] == ["admin", "binh", "lan"]
    assert users.get_user(a, admin).is_admin is True
    assert users.get_user(a, 999) is None
    assert not hasattr(users.get_user(a, lan), "password_hash")


# --- collections ----------------------------------------------------------------------


def test_create_list_get_collection(world):
    a, ids, lan, _binh = world
    cid = users.create_collection(a, lan, "  Kế hoạch   CCHC ", note="để đối chiếu")
    users.create_collection(a, lan, "Báo cáo")
    users.add_items(a, lan, cid, ids[:2])
    info = users.get_collection(a, lan, cid)
    assert (info.name, info.note, info.item_count, info.owner_id) == (
        "Kế hoạch CCHC",
        "để đối chiếu",
        2,
        lan,
    )
    assert [(c.name, c.item_count) for c in users.list_collections(a, lan)] == [
        ("Báo cáo", 0),
        ("Kế hoạch CCHC", 2),
    ]


def test_collection_name_unique_per_owner(world):
    a, _ids, lan, binh = world
    users.create_collection(a, lan, "Theo dõi")
    with pytest.raises(UserError, match="already have") as err:
        users.create_collection(a, lan, "Theo dõi")
    assert err.value.kind == "conflict"
    users.create_collection(a, binh, "Theo dõi")  # another owner may use the name
    with pytest.raises(UserError, match="empty"):
        users.create_collection(a, lan, "   ")


def test_rename_and_note(world):
    a, _ids, lan, _binh = world
    cid = users.create_collection(a, lan, "Cũ")
    other = users.create_collection(a, lan, "Khác")
    before = users.get_collection(a, lan, cid).updated_at
    users.rename_collection(a, lan, cid, "Mới")
    users.set_note(a, lan, cid, "ghi chú")
    info = users.get_collection(a, lan, cid)
    assert (info.name, info.note) == ("Mới", "ghi chú") and info.updated_at >= before
    with pytest.raises(UserError, match="already have"):
        users.rename_collection(a, lan, other, "Mới")
    users.rename_collection(a, lan, cid, "Mới")  # same name again is no conflict


def test_add_keeps_order_and_skips_duplicates(world):
    a, ids, lan, _binh = world
    cid = users.create_collection(a, lan, "Thứ tự")
    assert users.add_items(a, lan, cid, [ids[3], ids[1], ids[3]]) == 2
    assert users.add_items(a, lan, cid, [ids[1], ids[0], ids[4]]) == 2
    assert users.add_items(a, lan, cid, [ids[0]]) == 0
    assert users.add_items(a, lan, cid, []) == 0
    assert users.collection_article_ids(a, lan, cid) == [ids[3], ids[1], ids[0], ids[4]]


def test_add_unknown_article_adds_nothing(world):
    a, ids, lan, _binh = world
    cid = users.create_collection(a, lan, "Sai")
    with pytest.raises(UserError, match="p-khong-co"):
        users.add_items(a, lan, cid, [ids[0], "p-khong-co"])
    assert users.collection_article_ids(a, lan, cid) == []


def test_remove_items(world):
    a, ids, lan, _binh = world
    cid = users.create_collection(a, lan, "Bớt")
    users.add_items(a, lan, cid, ids)
    assert users.remove_items(a, lan, cid, [ids[1], ids[3], "p-khong-co", ids[1]]) == 2
    assert users.remove_items(a, lan, cid, [ids[1]]) == 0
    assert users.collection_article_ids(a, lan, cid) == [ids[0], ids[2], ids[4]]
    assert users.add_items(a, lan, cid, [ids[1]]) == 1  # re-added goes to the end
    assert users.collection_article_ids(a, lan, cid)[-1] == ids[1]


def test_another_users_collection_is_refused(world):
    a, ids, lan, binh = world
    cid = users.create_collection(a, lan, "Riêng")
    users.add_items(a, lan, cid, ids[:2])
    assert users.get_collection(a, binh, cid) is None
    assert users.list_collections(a, binh) == []
    for call in (
        lambda: users.rename_collection(a, binh, cid, "Của tôi"),
        lambda: users.set_note(a, binh, cid, "x"),
        lambda: users.add_items(a, binh, cid, ids[2:]),
        lambda: users.remove_items(a, binh, cid, ids[:2]),
        lambda: users.collection_article_ids(a, binh, cid),
        lambda: users.delete_collection(a, binh, cid),
    ):
        with pytest.raises(UserError, match="no such collection") as err:
            call()
        assert err.value.kind == "not_found"
    info = users.get_collection(a, lan, cid)
    assert (info.name, info.note, info.item_count) == ("Riêng", "", 2)
    # Another user's collection looks exactly like a missing one.
    assert users.get_collection(a, lan, 999) is None


def test_delete_collection_removes_items(world):
    a, ids, lan, _binh = world
    cid = users.create_collection(a, lan, "Xoá")
    keep = users.create_collection(a, lan, "Giữ")
    users.add_items(a, lan, cid, ids)
    users.add_items(a, lan, keep, ids[:1])
    users.delete_collection(a, lan, cid)
    assert users.get_collection(a, lan, cid) is None
    with a.session() as s:
        left = s.scalars(select(CollectionItem.collection_id)).all()
    assert left == [keep]
    assert len(list(a.iter_articles())) == 5  # the articles themselves stay


def test_bulk_add_is_one_transaction_few_queries(tmp_path):
    a, ids = make_archive(tmp_path, 5000)
    try:
        uid = users.create_user(a, "lan", PASSWORD)
        cid = users.create_collection(a, uid, "Tất cả")
        statements = []

        def count(*_args):
            statements.append(1)

        event.listen(a.engine, "before_cursor_execute", count)
        started = time.perf_counter()
        assert users.add_items(a, uid, cid, ids) == 5000
        elapsed = time.perf_counter() - started
        event.remove(a.engine, "before_cursor_execute", count)
        assert elapsed < 1.0, f"bulk add took {elapsed:.2f}s"
        assert len(statements) < 30, f"{len(statements)} statements for 5,000 ids"
        assert users.collection_article_ids(a, uid, cid) == ids
        assert users.get_collection(a, uid, cid).item_count == 5000
        assert users.remove_items(a, uid, cid, ids[::2]) == 2500
        with a.session() as s:
            assert s.scalar(select(func.count()).select_from(CollectionItem)) == 2500
    finally:
        a.close()
