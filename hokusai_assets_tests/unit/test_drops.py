"""Drop layout, partition keys, the sensor cursor, and the local drop folder."""

import hashlib
import json
import os

import pytest
from eth_utils import to_checksum_address

from hokusai.drops.store import (
    ContributionChangedError,
    LocalFolderStore,
    resolve_partition,
)
from hokusai.drops.keys import (
    InvalidDropError,
    StoredObject,
    known_token_ids,
    parse_drop_key,
    parse_partition_key,
    partition_key_for,
    plan_drops,
)
from hokusai.rules.token_ids import validate_token_id

WALLET = "0x" + "ab12" * 10
CHECKSUMMED = to_checksum_address("0x" + "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
BAD_CHECKSUM = CHECKSUMMED[:-1] + CHECKSUMMED[-1].swapcase()


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (f"digits-demo/{WALLET}/data.csv", ("digits-demo", WALLET, "data.csv")),
        (f"t1/{CHECKSUMMED}/rows.jsonl.gz", ("t1", CHECKSUMMED.lower(), "rows.jsonl.gz")),
        (f"t1/{WALLET.upper().replace('0X', '0x')}/a_b-1.parquet", ("t1", WALLET, "a_b-1.parquet")),
        (f"t1/{WALLET}/x.tsv.gz", ("t1", WALLET, "x.tsv.gz")),
        (f"t1/{WALLET}/v1.2.ndjson", ("t1", WALLET, "v1.2.ndjson")),
    ],
)
def test_parse_drop_key_accepts(key, expected):
    assert tuple(vars(parse_drop_key(key)).values()) == expected


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("digits-demo/data.csv", "expected {token_id}/{wallet}/{file}, got 2 path segments"),
        (f"a/{WALLET}/b/c.csv", "got 4 path segments"),
        (f"digits-demo//{WALLET}", "got an empty path segment"),
        (f"Digits/{WALLET}/a.csv", "'Digits' is not a token id: token id 'Digits' must be lowercase"),
        (f"-digits/{WALLET}/a.csv", "must not start or end with a hyphen"),
        ("t1/0xABC/a.csv", "'0xABC' is not a wallet address"),
        (f"t1/{BAD_CHECKSUM}/a.csv", "EIP-55"),
        (f"t1/{WALLET}\n/a.csv", "is not a wallet address"),
        (f"t1/{WALLET}/data.xlsx", "unsupported file type '.xlsx'; use csv, tsv, json, jsonl"),
        (f"t1/{WALLET}/data.gz", "unsupported file type '.gz'"),
        (f"t1/{WALLET}/data.CSV", "unsupported file type '.CSV'"),
        (f"t1/{WALLET}/data.parquet.gz", "parquet is already compressed"),
        (f"t1/{WALLET}/.hidden.csv", "hidden file"),
        (f"t1/{WALLET}/my data.csv", "A-Z a-z 0-9"),
        (f"t1/{WALLET}/a...csv", "without '...'"),
        (f"t1/{WALLET}/data@v2.csv", "A-Z a-z 0-9"),
        (f"t1/{WALLET}/README", "has no file type extension"),
    ],
)
def test_parse_drop_key_rejects_with_reason(key, reason):
    with pytest.raises(InvalidDropError) as info:
        parse_drop_key(key)
    assert reason in str(info.value)


@pytest.mark.parametrize("token_id", ["a", "digits-demo", "a1-b2", "a" * 64, "9"])
def test_validate_token_id_accepts(token_id):
    assert validate_token_id(token_id) == token_id


@pytest.mark.parametrize(
    ("token_id", "reason"),
    [
        ("a" * 65, "65 characters long; at most 64"),
        ("-abc", "must not start or end with a hyphen"),
        ("abc-", "must not start or end with a hyphen"),
        ("Digits-Demo", "must be lowercase"),
        ("", "empty"),
        ("a_b", "only lowercase letters, digits and hyphens"),
        ("a.b", "only lowercase letters, digits and hyphens"),
    ],
)
def test_validate_token_id_rejects(token_id, reason):
    with pytest.raises(ValueError, match=reason):
        validate_token_id(token_id)


@pytest.mark.parametrize(
    ("key", "etag", "expected"),
    [
        (f"t1/{WALLET}/a.csv", '"0123456789ABCDEF0123456789abcdef"', f"t1/{WALLET}/a.csv@0123456789ab"),
        (f"t1/{CHECKSUMMED}/a.csv", "d41d8cd98f00b204e9800998ecf8427e-3",
         f"t1/{CHECKSUMMED.lower()}/a.csv@d41d8cd98f00"),
    ],
)
def test_partition_key_round_trip(key, etag, expected):
    partition_key = partition_key_for(StoredObject(key, etag, 1, 0.0))
    assert partition_key == expected
    assert parse_partition_key(partition_key) == (key.replace(CHECKSUMMED, CHECKSUMMED.lower()), expected[-12:])


@pytest.mark.parametrize(
    "partition_key",
    ["", f"t1/{WALLET}/a.csv", f"t1/{WALLET}/a.csv@", f"t1/{WALLET}/a.csv@XYZ",
     f"t1/{WALLET}/a.csv@0123456789abc", "t1/a.csv@0123", f"t1/{CHECKSUMMED}/a.csv@0123"],
)
def test_parse_partition_key_rejects(partition_key):
    with pytest.raises(ValueError):
        parse_partition_key(partition_key)


def obj(name, etag="aa", t=100.0, token="t1"):
    return StoredObject(f"{token}/{WALLET}/{name}", etag * 16, 1, t)


def test_plan_drops_same_second_upload_after_cursor_is_not_missed():
    first = plan_drops([obj("a.csv")], None, 10, None)
    second = plan_drops([obj("a.csv"), obj("b.csv")], first.cursor, 10, None)
    assert [o.key for o, _ in second.accepted] == [obj("b.csv").key]


def test_plan_drops_overwrite_with_new_etag_is_a_new_contribution():
    first = plan_drops([obj("a.csv", "aa")], None, 10, None)
    for overwritten in (obj("a.csv", "bb"), obj("a.csv", "bb", t=101.0)):
        plan = plan_drops([overwritten], first.cursor, 10, None)
        assert [pk for _, pk in plan.accepted] == [f"t1/{WALLET}/a.csv@bbbbbbbbbbbb"]


@pytest.mark.parametrize("times", [[100.0] * 5, [100.0, 101.0, 101.0, 102.0, 103.0]])
def test_plan_drops_cap_is_respected_and_the_rest_comes_next_tick(times):
    listing = [obj(f"{i}.csv", t=t) for i, t in enumerate(times)]
    cursor, seen, remaining = None, [], []
    for _ in range(3):
        plan = plan_drops(listing, cursor, 2, None)
        cursor, remaining = plan.cursor, remaining + [plan.remaining]
        seen += [o.key for o, _ in plan.accepted]
        assert len(plan.accepted) <= 2
    assert sorted(seen) == sorted(o.key for o in listing) and remaining == [3, 1, 0]


def test_plan_drops_replayed_tick_yields_nothing_and_skips_are_not_retried():
    listing = [obj("a.csv"), obj("bad.xlsx"), obj("c.csv", t=99.0)]
    first = plan_drops(listing, None, 10, None)
    assert len(first.accepted) == 2 and [k for k, _ in first.skipped] == [obj("bad.xlsx").key]
    replay = plan_drops(listing, first.cursor, 10, None)
    assert (replay.accepted, replay.skipped, replay.remaining) == ([], [], 0)
    assert replay.cursor == first.cursor


@pytest.mark.parametrize("cursor", [None, "", "garbage", "{}", "null", "[1]", '{"mark": "x", "seen": []}'])
def test_plan_drops_malformed_cursor_starts_from_scratch(cursor):
    assert len(plan_drops([obj("a.csv"), obj("b.csv")], cursor, 10, None).accepted) == 2


def test_plan_drops_unknown_token_is_skipped_and_invalid_objects_do_not_use_the_cap():
    listing = [obj("x.xlsx", t=1.0), obj("a.csv", token="other", t=2.0), obj("b.csv", t=3.0)]
    plan = plan_drops(listing, None, 1, {"t1"})
    assert [o.key for o, _ in plan.accepted] == [obj("b.csv").key]
    assert plan.skipped[1] == (obj("a.csv", token="other").key, "unknown token 'other': no token spec has that id")
    assert json.loads(plan.cursor)["mark"] == 3.0
    with pytest.raises(ValueError):
        plan_drops(listing, None, 0, None)


def test_known_token_ids(tmp_path):
    for name in ("digits-demo.yaml", "b.yaml", "Bad_Name.yaml", "c.yml"):
        (tmp_path / name).write_text("x: 1\n")
    assert known_token_ids(tmp_path) == {"digits-demo", "b"}
    assert known_token_ids(tmp_path / "missing") == set()


def test_local_store_etag_is_md5_and_listing_hides_hidden_and_temp_files(tmp_path, monkeypatch):
    store = LocalFolderStore(tmp_path)
    stored = store.put_bytes(f"t1/{WALLET}/a.csv", b"x,y\n1,2\n")
    assert stored.etag == hashlib.md5(b"x,y\n1,2\n").hexdigest() and stored.size == 8
    assert stored.last_modified == float(int(os.stat(tmp_path / stored.key).st_mtime))
    for hidden in (".hidden.csv", "a.csv.tmp", ".a.csv.x1.tmp", ".git/config", "b.csv.part"):
        (tmp_path / "t1" / hidden).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "t1" / hidden).write_text("x")
    (tmp_path / "t1" / "link.csv").symlink_to(tmp_path / stored.key)
    assert list(store.list_objects()) == [stored]
    monkeypatch.setattr("hokusai.drops.store.hashlib.md5", None)  # cached: not re-read
    assert store.stat(stored.key) == stored and store.read_bytes(stored.key) == b"x,y\n1,2\n"
    assert store.uri(stored.key) == (tmp_path / stored.key).resolve().as_uri()


@pytest.mark.parametrize("key", ["../x.csv", "/etc/passwd", "a/../../x", "a//b", "a\\..\\b", "", ".", "out/x"])
def test_local_store_rejects_keys_escaping_the_root(tmp_path, key):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "out").symlink_to(tmp_path)
    store = LocalFolderStore(tmp_path / "root")
    for call in (store.stat, store.read_bytes, lambda k: store.put_bytes(k, b"x")):
        with pytest.raises(ValueError):
            call(key)


def test_local_store_put_is_atomic(tmp_path, monkeypatch):
    store = LocalFolderStore(tmp_path)
    key = f"t1/{WALLET}/a.csv"
    store.put_bytes(key, b"old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr("hokusai.drops.store.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.put_bytes(key, b"new")
    assert store.read_bytes(key) == b"old"
    assert sorted(p.name for p in (tmp_path / "t1" / WALLET).iterdir()) == ["a.csv"]


@pytest.mark.parametrize("wallet", [WALLET, CHECKSUMMED])
def test_resolve_partition_detects_replaced_and_missing_files(tmp_path, wallet):
    store = LocalFolderStore(tmp_path)
    stored = store.put_bytes(f"t1/{wallet}/a.csv", b"v1")
    partition_key = partition_key_for(stored)
    assert resolve_partition(store, partition_key) == stored
    store.put_bytes(stored.key, b"v2")
    with pytest.raises(ContributionChangedError, match="was replaced after this partition was registered"):
        resolve_partition(store, partition_key)
    (tmp_path / stored.key).unlink()
    with pytest.raises(FileNotFoundError, match="is gone"):
        resolve_partition(store, partition_key)


def test_local_store_reads_only_the_version_a_partition_names(tmp_path):
    store = LocalFolderStore(tmp_path)
    first = store.put_bytes(f"t1/{WALLET}/a.csv", b"v1")
    assert store.read_version(first) == b"v1"
    store.put_bytes(first.key, b"v2")  # overwritten between resolving the partition and reading it
    with pytest.raises(ContributionChangedError, match=f"partition {first.etag[:12]}"):
        store.read_version(first)


def test_local_store_notices_an_in_place_write_of_the_same_size(tmp_path):
    """The MD5 is not taken again for a file unchanged since it was listed; a write in
    place (same inode, same size) changes its ctime, so it is hashed again and refused."""
    store = LocalFolderStore(tmp_path)
    first = store.put_bytes(f"t1/{WALLET}/a.csv", b"x,y\n1,2\n")
    with open(tmp_path / first.key, "r+b") as handle:
        handle.write(b"x,y\n3,4\n")
    with pytest.raises(ContributionChangedError, match=f"partition {first.etag[:12]}"):
        store.read_version(first)


@pytest.mark.parametrize("same_file_system", [True, False])
def test_local_put_file_moves_or_copies_whole(tmp_path, same_file_system):
    """A spooled upload is renamed into place, or (another file system: /dev/shm is tmpfs) copied to a
    hidden temp file and renamed; the drop folder never lists a partial file."""
    import tempfile
    from pathlib import Path

    if not same_file_system and not Path("/dev/shm").is_dir():
        pytest.skip("no tmpfs at /dev/shm to stand for another file system")
    body = b"a,b\n" + b"1,2\n" * 300_000
    folder = tempfile.mkdtemp(dir="/dev/shm") if not same_file_system else str(tmp_path)
    spooled = Path(folder) / "upload.part"
    spooled.write_bytes(body)
    store = LocalFolderStore(tmp_path / "drops")
    stored = store.put_file("digits-demo/0x" + "ab" * 20 + "/rows.csv", spooled)
    assert stored.etag == hashlib.md5(body).hexdigest() and stored.size == len(body)
    assert store.read_bytes(stored.key) == body
    assert spooled.exists() is not same_file_system  # renamed away, or left for the caller to remove
    assert [p.name for p in (tmp_path / "drops").rglob("*") if p.is_file()] == ["rows.csv"]
    if not same_file_system:
        spooled.unlink()
        os.rmdir(folder)
