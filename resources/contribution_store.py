"""The drop zone as a Dagster resource: config in, a ``ContributionStore`` out.

The sensor and assets are typed on the base class, so a deployment picks the
local folder or S3 by which subclass it binds under ``contribution_store``.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from hokusai.drops.store import ContributionStore, LocalFolderStore
from hokusai.drops.s3 import S3ContributionStore


class ContributionStoreResource(ConfigurableResource):
    """Abstract: ConfigurableResource is already an ABC, so ``abstractmethod`` is enforced."""

    @abstractmethod
    def get_store(self) -> ContributionStore: ...


class LocalContributionStoreResource(ContributionStoreResource):
    """A local folder laid out like the bucket: ``{root}/{token_id}/{wallet}/{file}``."""

    root: str = Field(description="Folder that plays the drop bucket (and prefix).")

    def get_store(self) -> ContributionStore:
        return LocalFolderStore(Path(self.root))


class S3ContributionStoreResource(ContributionStoreResource):
    """A bucket + prefix laid out ``{prefix}/{token_id}/{wallet}/{file}`` (AWS S3, MinIO, SeaweedFS).

    No credential fields: boto3 reads them from its default chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``, a profile, an instance or task role) each time a store is built.
    """

    bucket: str = Field(description="Drop bucket.")
    prefix: str = Field(default="", description="Key prefix of the drop zone inside the bucket ('' = the root).")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint; unset for AWS.")
    region: str | None = Field(default=None, description="Region; unset: boto3's default chain.")
    path_style: bool = Field(default=True, description="Path-style addressing (MinIO, SeaweedFS).")

    def get_store(self) -> ContributionStore:
        return S3ContributionStore(self.bucket, self.prefix, self.endpoint_url, self.region, self.path_style)
