"""The S3 drop zone as a Dagster resource: dagster-aws's ``S3Resource`` with a drop zone's fields.

A module of its own so the embedded default (a local folder) never imports dagster-aws.
"""

from __future__ import annotations

from typing import Any

from dagster_aws.s3 import S3Resource
from pydantic import Field

from hokusai.drops.s3 import (
    CONNECT_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    READ_TIMEOUT_SECONDS,
    S3ContributionStore,
    make_s3_client,
)
from hokusai.drops.store import ContributionStore
from resources.contribution_store import ContributionStoreResource


class S3ContributionStoreResource(S3Resource, ContributionStoreResource):
    """A bucket + prefix laid out ``{prefix}/{token_id}/{wallet}/{file}`` (AWS S3, MinIO, SeaweedFS).

    dagster-aws's ``S3Resource``, so the UI shows the standard S3 configuration (endpoint,
    region, attempts, SSL, profile), with what a drop zone needs beside it: the bucket and
    prefix, the addressing style, and timeouts, so a sensor tick against a dead endpoint fails
    fast and the next tick retries. ``get_client`` builds the client from all of these
    (``S3Resource``'s own sets no timeout, addressing style or checksum mode).

    ``build_resources`` sets no credential field: boto3 reads them from its default chain
    (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, a profile, an instance or task role)
    each time a store is built. A deployment that sets them gives them as ``EnvVar``.
    """

    bucket: str = Field(description="Drop bucket.")
    prefix: str = Field(default="", description="Key prefix of the drop zone inside the bucket ('' = the root).")
    path_style: bool = Field(default=True, description="Path-style addressing (MinIO, SeaweedFS).")
    max_attempts: int = Field(default=MAX_ATTEMPTS, description="Attempts per S3 call, the first included.")
    connect_timeout_seconds: float = Field(default=CONNECT_TIMEOUT_SECONDS, description="Connect timeout.")
    read_timeout_seconds: float = Field(default=READ_TIMEOUT_SECONDS, description="Read timeout.")

    def get_client(self) -> Any:
        return make_s3_client(
            self.endpoint_url, self.region_name, self.path_style, max_attempts=self.max_attempts,
            connect_timeout=self.connect_timeout_seconds, read_timeout=self.read_timeout_seconds,
            use_ssl=self.use_ssl, verify=self.verify, profile_name=self.profile_name,
            unsigned=self.use_unsigned_session,
            credentials={"aws_access_key_id": self.aws_access_key_id,
                         "aws_secret_access_key": self.aws_secret_access_key,
                         "aws_session_token": self.aws_session_token},
        )

    def get_store(self) -> ContributionStore:
        return S3ContributionStore(self.bucket, self.prefix, self.endpoint_url, self.region_name, self.path_style,
                                   client_factory=self.get_client)
