"""The registry's value types: a logged model and a registered version, as Hokusai refers to them."""

from __future__ import annotations

from dataclasses import dataclass, field

from hokusai.core.tags import COMMITMENT_TAG


@dataclass(frozen=True)
class LoggedModelRef:
    """A model logged in a run, before (or without) registration."""

    run_id: str
    model_uri: str
    weights_commitment: str


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered model version, as Hokusai refers to it."""

    name: str
    version: int
    run_id: str | None
    model_uri: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def weights_commitment(self) -> str | None:
        return self.tags.get(COMMITMENT_TAG)
