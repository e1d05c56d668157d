"""The drop zone as a Dagster resource: config in, a ``ContributionStore`` out.

The sensor and assets are typed on the base class, so a deployment picks the
local folder or S3 by which subclass it binds under ``contribution_store``. The S3 one
(``resources.s3_contribution_store``) is imported only when S3 is chosen
(``resources.contribution_store_resource``).
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from hokusai.drops.store import ContributionStore, LocalFolderStore


class ContributionStoreResource(ConfigurableResource):
    """Abstract: ConfigurableResource is already an ABC, so ``abstractmethod`` is enforced."""

    @abstractmethod
    def get_store(self) -> ContributionStore: ...


class LocalContributionStoreResource(ContributionStoreResource):
    """A local folder laid out like the bucket: ``{root}/{token_id}/{wallet}/{file}``."""

    root: str = Field(description="Folder that plays the drop bucket (and prefix).")

    def get_store(self) -> ContributionStore:
        return LocalFolderStore(Path(self.root))

