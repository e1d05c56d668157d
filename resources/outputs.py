"""Where each evaluation's documents go: one folder per partition."""

from pathlib import Path

from dagster import ConfigurableResource

from hokusai.claims.documents import output_dir_for


class OutputsResource(ConfigurableResource):
    """``{root}/{token}/{wallet}/{file}@{etag}/`` holds delta_one, attestation, mint request or rejection."""

    root: str

    def dir_for(self, partition_key: str) -> Path:
        return output_dir_for(Path(self.root), partition_key)
