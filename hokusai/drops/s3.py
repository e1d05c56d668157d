"""Contributions in an S3 bucket (AWS S3, MinIO, SeaweedFS) behind the ``ContributionStore`` interface.

Keys are relative to ``s3://{bucket}/{prefix}/``, exactly like the local folder's
keys are relative to its root, so the sensor, ``resolve_partition`` and the assets
never know which store they use. Credentials come only from boto3's default chain
(environment variables, shared profile, instance or container role): nothing here
or in any config file holds them. boto3 is imported where a client is built, so
importing this module costs nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from hokusai.drops.store import (
    ContributionChangedError,
    ContributionStore,
    LocalFolderStore,
    replaced_message,
    validate_store_key,
)
from hokusai.drops.keys import StoredObject

if TYPE_CHECKING:
    from hokusai.settings import Settings

# A sensor tick should fail fast and be retried by the next tick, not hang on a dead endpoint.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
MAX_ATTEMPTS = 4  # attempts per call, the first included (as dagster-aws counts them)
PAGE_SIZE = 1000  # the most S3 returns per ListObjectsV2 page
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_LOADER_LOCK = threading.Lock()
_SHARED_LOADER: Any = None


def _parse_timestamp(value: Any) -> datetime:
    """ISO 8601 (what listings carry) by the standard library, anything else by botocore.

    botocore's default goes through dateutil at ~0.3 ms a call: two thirds of the time
    of listing 10,000 objects. Python 3.11's ``fromisoformat`` reads S3's
    ``2026-11-23T05:03:27.000Z`` directly.
    """
    if isinstance(value, str) and "T" in value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    from botocore.utils import parse_timestamp

    return parse_timestamp(value)


def _shared_botocore_session() -> Any:
    """A fresh botocore session (credentials resolved anew) sharing one model loader.

    A session of its own reads the credential chain when the client is made, so a
    rotated key or a changed environment is seen by the next tick; sharing the
    loader keeps a client at ~40 ms instead of ~150 ms of JSON model parsing.
    """
    import botocore.session

    global _SHARED_LOADER
    session = botocore.session.Session()
    with _LOADER_LOCK:
        if _SHARED_LOADER is None:
            _SHARED_LOADER = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _SHARED_LOADER)
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_parse_timestamp)
    return session


def make_s3_client(endpoint_url: str | None = None, region: str | None = None, path_style: bool = True, *,
                   max_attempts: int = MAX_ATTEMPTS, connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
                   read_timeout: float = READ_TIMEOUT_SECONDS, use_ssl: bool = True, verify: bool | None = None,
                   profile_name: str | None = None, unsigned: bool = False,
                   credentials: dict[str, str | None] | None = None) -> Any:
    """A boto3 S3 client with timeouts, addressing style and checksum mode set.

    Credentials come from boto3's default chain unless ``credentials`` (access key id,
    secret, session token: resolved from ``EnvVar`` by the resource) or a profile name it.
    """
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path" if path_style else "auto"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": max_attempts, "mode": "standard"},
        # S3-compatible servers differ in their support of the newer default
        # checksums; ask for them only where the API requires one.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        **({"signature_version": UNSIGNED} if unsigned else {}),
    )
    session = boto3.session.Session(botocore_session=_shared_botocore_session(), profile_name=profile_name)
    return session.client("s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config,
                          use_ssl=use_ssl, verify=verify, **{k: v for k, v in (credentials or {}).items() if v})


def _status_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def _is_missing(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in _MISSING_CODES or _status_code(error) == "404"


def _unix_seconds(last_modified: Any) -> float:
    """S3 timestamps in whole seconds: listings of some servers carry milliseconds, HEAD never does."""
    return float(int(last_modified.timestamp()))


class S3ContributionStore(ContributionStore):
    """A bucket + prefix as a drop zone: ``s3://{bucket}/{prefix}/{token_id}/{wallet}/{file}``."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, path_style: bool = True, client: Any = None,
                 client_factory: Callable[[], Any] | None = None) -> None:
        """``client_factory`` builds the client on first use (the Dagster resource's ``get_client``);
        without one, ``make_s3_client`` with the endpoint, region and addressing given."""
        if not bucket or "/" in bucket:
            raise ValueError(f"S3 bucket name {bucket!r} must be a non-empty name without '/'")
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self.endpoint_url = endpoint_url or None
        self.region = region or None
        self.path_style = path_style
        self._root = f"{self.prefix}/" if self.prefix else ""
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = (self._client_factory() if self._client_factory else
                            make_s3_client(self.endpoint_url, self.region, self.path_style))
        return self._client

    def _object_key(self, key: str) -> str:
        return self._root + validate_store_key(key)

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under the prefix, page by page (1,000 keys a page), in key order.

        Folder placeholders (keys ending in '/', made by consoles) are not objects to
        evaluate and are left out; anything else is listed, so the sensor can report it.
        """
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self._root,
                                   PaginationConfig={"PageSize": PAGE_SIZE})
        for page in pages:
            for entry in page.get("Contents", ()):
                key = entry["Key"][len(self._root):]
                if key and not key.endswith("/"):
                    yield StoredObject(key=key, etag=entry["ETag"], size=int(entry["Size"]),
                                       last_modified=_unix_seconds(entry["LastModified"]))

    def read_bytes(self, key: str) -> bytes:
        return self._get(key)

    def read_version(self, obj: StoredObject) -> bytes:
        """GET with ``If-Match``: S3 itself refuses (412) once the object is another version."""
        return self._get(obj.key, expected_etag=obj.etag)

    def _get(self, key: str, expected_etag: str | None = None) -> bytes:
        condition = {"IfMatch": f'"{expected_etag}"'} if expected_etag else {}
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key), **condition)
        except Exception as error:
            if _is_missing(error):
                raise FileNotFoundError(f"no object at {self.uri(key)}") from None
            if expected_etag and _status_code(error) == "412":
                current = self.stat(key).etag
                raise ContributionChangedError(replaced_message(self.uri(key), current, expected_etag)) from None
            raise
        with response["Body"] as body:
            return body.read()

    def stat(self, key: str) -> StoredObject:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except Exception as error:
            if _is_missing(error):
                raise FileNotFoundError(f"no object at {self.uri(key)}") from None
            raise
        return StoredObject(key=key, etag=head["ETag"], size=int(head["ContentLength"]),
                            last_modified=_unix_seconds(head["LastModified"]))

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """One PUT (atomic on S3: a reader sees the old object or the new one), then a HEAD."""
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data)
        return self.stat(key)

    def put_file(self, key: str, path: Path) -> StoredObject:
        """One PUT streamed from the file (botocore reads it in chunks), so the ETag stays the MD5 a
        single-part upload has, as for ``put_bytes``; then a HEAD."""
        with open(path, "rb") as body:
            self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=body,
                                   ContentLength=os.fstat(body.fileno()).st_size)
        return self.stat(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._root}{key}"


def contribution_store_for(settings: Settings) -> ContributionStore:
    """The store the settings name: the S3 bucket when ``HOKUSAI_S3_BUCKET`` is set, else the local folder.

    The one place the choice is made: the CLI, the API and the Dagster resource
    (``resources.contribution_store_resource``) all start from it.
    """
    if settings.s3_bucket:
        return S3ContributionStore(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url,
                                   settings.s3_region, settings.s3_path_style)
    return LocalFolderStore(settings.drop_zone)
