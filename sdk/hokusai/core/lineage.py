"""A model's lineage: its baseline, then every improvement measured against it or its descendants.

Each improvement records the version it was measured against (tag
``baseline_version``), so the versions of one registered model form trees; a
version with no ``baseline_version`` is a root (a baseline). The lineage of
``name/version`` is the tree that version belongs to, in version order; for a
bare ``name`` it is the tree of the current champion (or of the newest version).
A few requests answer it whatever the number of versions: the versions, the
model's aliases, and (for versions without a ``hokusai_metrics`` tag, i.e. the
pipeline's) the experiments and their runs' metrics in batched searches.
"""

from __future__ import annotations

from typing import Any

from hokusai.core.model_ids import parse_model_id
from hokusai.core.client import RegistryClient
from hokusai.core.errors import ModelNotFoundError
from hokusai.core.tags import CHAMPION_ALIAS
from hokusai.core.versions import (
    baseline_metrics_measured, is_accepted, needs_run_metrics, run_metrics, version_metrics, version_view,
)


def get_model_lineage(registry: RegistryClient, model_id: str) -> dict[str, Any]:
    """Baseline -> improvements, each with contributor, data hash, metrics, DeltaOne and verdict."""
    name, version = parse_model_id(model_id, version_required=False)
    by_version = {int(v.version): v for v in registry.search_versions(f"name = '{name}'")}
    if not by_version:
        raise ModelNotFoundError(f"model {name!r} is not registered at this tracking URI")
    if version is not None and version not in by_version:
        raise ModelNotFoundError(f"model {name!r} has no version {version}")
    aliases: dict[int, list[str]] = {}
    for alias, number in registry.model_aliases(name).items():
        aliases.setdefault(number, []).append(alias)
    views = {number: version_view(found, aliases.get(number, [])) for number, found in by_version.items()}
    parents = {number: _parent(view, by_version) for number, view in views.items()}
    champion = next((number for number, view in views.items() if CHAMPION_ALIAS in view["aliases"]), None)
    start = version if version is not None else (champion or max(views))
    root = _root(start, parents)
    members = [number for number in sorted(views) if _root(number, parents) == root]
    measured = run_metrics(registry, [views[number]["run_id"] for number in members
                                      if needs_run_metrics(views[number]["tags"])])
    steps = []
    for number in members:
        view = views[number]
        view["metrics"] = version_metrics(view["tags"], measured.get(view["run_id"] or ""))
        view["delta_one"] = None if view["delta_one_bps"] is None else view["delta_one_bps"] / 100
        steps.append(view)
    _fill_baseline_metrics(steps, measured)
    accepted = [step for step in steps[1:] if is_accepted(step)]
    return {
        "model_id": model_id,
        "model_name": name,
        "token_id": steps[0]["token_id"] or next((s["token_id"] for s in steps if s["token_id"]), None),
        "baseline": steps[0],
        "improvements": steps[1:],
        "versions": steps,
        "champion_version": champion if champion in members else None,
        "contributors": sorted({s["contributor_address"] for s in steps if s["contributor_address"]}),
        "total_improvements": len(steps) - 1,
        "accepted_improvements": len(accepted),
        "total_delta_one_bps": sum(step["delta_one_bps"] or 0 for step in accepted),
    }


def _parent(view: dict[str, Any], by_version: dict[int, Any]) -> int | None:
    """The version this one was measured against, if it is an older version of the same model."""
    parent = view["baseline_version"]
    return parent if parent is not None and parent in by_version and parent < view["version"] else None


def _root(number: int, parents: dict[int, int | None]) -> int:
    while parents[number] is not None:  # parents are older versions, so this ends
        number = parents[number]
    return number


def _fill_baseline_metrics(steps: list[dict[str, Any]], measured: dict[str, dict[str, float]]) -> None:
    """A version without metrics of its own (the pipeline's first baseline is only measured later)
    shows what the first evaluation against it measured (``baseline_*`` on that run)."""
    for step in steps:
        if step["metrics"]:
            continue
        for child in steps:
            if child["baseline_version"] == step["version"]:
                found = baseline_metrics_measured(measured.get(child["run_id"] or "", {}))
                if found:
                    step["metrics"] = found
                    break
