"""Where contributions are dropped: an S3-shaped interface and a local folder.

The interface is what S3 offers cheaply (list, get, head, put, a URI), so the
S3 store is a drop-in and the sensor and assets never know which one they use.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat as stat_mode
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from hokusai.drops.keys import StoredObject, parse_partition_key
from hokusai.rules.wallets import to_checksum_address

_TEMP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")
_MD5_CACHE: dict[tuple[str, int, int, int, int], str] = {}
_MD5_CACHE_LIMIT = 100_000


class ContributionChangedError(RuntimeError):
    """The object behind a partition was overwritten: the partition names another version."""


class ContributionMissingError(FileNotFoundError):
    """The object behind a partition is gone from the store."""


class ContributionStore(ABC):
    """Objects addressed by POSIX keys relative to the store's root (bucket + prefix)."""

    @abstractmethod
    def list_objects(self) -> Iterator[StoredObject]: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def stat(self, key: str) -> StoredObject:
        """Raise FileNotFoundError when there is no object at ``key``."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Write via a hidden temp file and rename, so a reader never sees half a file."""
        _write_atomically(self._path(key), lambda handle: handle.write(data))
        return self.stat(key)

    def put_file(self, key: str, path: Path) -> StoredObject:
        """A rename when ``path`` is on the drop folder's file system (atomic: a reader sees no half
        file); else a copy to a hidden temp file beside the target, then a rename."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise

            def copy(handle):
                with open(path, "rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)

            _write_atomically(target, copy)
        return self.stat(key)

    def uri(self, key: str) -> str: ...

    @abstractmethod
    def read_version(self, obj: StoredObject) -> bytes:
        """The bytes of exactly the version ``obj`` names (its ETag).

        Raises ContributionChangedError when the object was overwritten since ``obj``
        was read, so a partition never evaluates content other than what it names.
        """


def validate_store_key(key: str) -> str:
    """Reject keys that could address something outside the store's root."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or "\0" in key:
        raise ValueError(f"store key {key!r} must be a relative POSIX path")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"store key {key!r} has an empty, '.' or '..' segment")
    return key


def _version_of(path: Path, st: os.stat_result) -> tuple:
    """What identifies one version of a file: any write or replacement changes it (ctime
    cannot be set back)."""
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _md5_file(path: Path, st: os.stat_result) -> str:
    """MD5 like an S3 single-part ETag; cached so a tick does not re-read unchanged files."""
    cache_key = _version_of(path, st)
    etag = _MD5_CACHE.get(cache_key)
    if etag is None:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        etag = digest.hexdigest()
        if len(_MD5_CACHE) >= _MD5_CACHE_LIMIT:
            _MD5_CACHE.clear()
        _MD5_CACHE[cache_key] = etag
    return etag


def _is_listed(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(_TEMP_SUFFIXES)


def _write_atomically(target: Path, write) -> None:
    """``write(handle)`` into a hidden temp file beside ``target``, synced, then renamed onto it:
    a reader sees the old file or the whole new one, never half of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class LocalFolderStore(ContributionStore):
    """A folder as a drop zone (laptops, tests). Symlinks are neither listed nor followed."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*validate_store_key(key).split("/"))
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"store key {key!r} resolves outside {self.root}")
        return path

    def _stored(self, key: str, path: Path, st: os.stat_result) -> StoredObject:
        return StoredObject(
            key=key,
            etag=_md5_file(path, st),
            size=st.st_size,
            last_modified=float(st.st_mtime_ns // 1_000_000_000),  # whole seconds, like S3
        )

    def list_objects(self) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"drop folder {self.root} does not exist")
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if _is_listed(d))
            for name in sorted(n for n in files if _is_listed(n)):
                path = Path(folder, name)
                try:
                    st = path.lstat()
                    if stat_mode.S_ISREG(st.st_mode):
                        key = PurePosixPath(path.relative_to(self.root)).as_posix()
                        yield self._stored(key, path, st)
                except FileNotFoundError:
                    continue  # removed while listing: S3 would not list it either

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def read_version(self, obj: StoredObject) -> bytes:
        """The file's bytes, checked against ``obj.etag``. A file that is, before and after
        the read, the version whose MD5 was taken (``_version_of``) is not hashed again
        (~0.7 s for 350 MB)."""
        path = self._path(obj.key)
        with path.open("rb") as handle:
            before = _version_of(path, os.fstat(handle.fileno()))
            data = handle.read()
            after = _version_of(path, os.fstat(handle.fileno()))
        known = _MD5_CACHE.get(before) if before == after else None
        etag = known or hashlib.md5(data, usedforsecurity=False).hexdigest()
        if etag != obj.etag:
            raise ContributionChangedError(replaced_message(self.uri(obj.key), etag, obj.etag))
        return data

    def stat(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            st = path.lstat()
        except FileNotFoundError:
            raise FileNotFoundError(f"no object at {self.uri(key)}") from None
        if not stat_mode.S_ISREG(st.st_mode):
            raise FileNotFoundError(f"{self.uri(key)} is not a regular file")
        return self._stored(key, path, st)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Write via a hidden temp file and rename, so a reader never sees half a file."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return self.stat(key)

    def put_file(self, key: str, path: Path) -> StoredObject:
        """A rename when ``path`` is on the drop folder's file system (atomic: a reader sees no half
        file); else a copy to a hidden temp file beside the target, then a rename."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, target)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as handle, open(path, "rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp_name, target)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise
        return self.stat(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()


def _key_spellings(object_key: str) -> Iterator[str]:
    """The wallet folder as lowercase, EIP-55 or uppercase: partition keys keep it lowercase.
    Lazily: the EIP-55 spelling (a Keccak hash) only when the lowercase folder has no match."""
    token_id, wallet, filename = object_key.split("/")
    seen = set()
    for spelling in (lambda: wallet, lambda: to_checksum_address(wallet), lambda: "0x" + wallet[2:].upper()):
        key = f"{token_id}/{spelling()}/{filename}"
        if key not in seen:
            seen.add(key)
            yield key


def replaced_message(uri: str, found_etag: str, partition_etag: str) -> str:
    return (f"the file at {uri} was replaced after this partition was registered (ETag "
            f"{found_etag[:12]}, partition {partition_etag[:12]}); drop it again to evaluate the new version")


def resolve_partition(store: ContributionStore, partition_key: str) -> StoredObject:
    """The object a partition names, only if it still holds the version that was dropped."""
    object_key, etag_prefix = parse_partition_key(partition_key)
    replaced: StoredObject | None = None
    for key in _key_spellings(object_key):
        try:
            obj = store.stat(key)
        except FileNotFoundError:
            continue
        if obj.etag.startswith(etag_prefix):
            return obj
        replaced = replaced or obj
    if replaced is not None:
        raise ContributionChangedError(replaced_message(store.uri(replaced.key), replaced.etag, etag_prefix))
    raise ContributionMissingError(
        f"the file at {store.uri(object_key)} for partition {partition_key!r} is gone; "
        "it was deleted or moved after it was dropped"
    )
