"""The production topology, for real: an operator's backfill of racing contributions.

A backfill launched through the webserver's GraphQL, as the UI launches it, materializes
every partition, with two improving contributions to one token racing for the champion:
the one that lost the chain's head is re-based by the daemon's re-base sensor, and the
chain ends linear. Its own platform (``topology_platform``): it is about as long as the
other topology tests (``test_topology.py``) together, so the suite's two workers can each take one file.
"""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest

from hokusai_assets_tests.conftest import SAMPLES, WALLET
from hokusai.harness.topology import ADD_PARTITION, ASSETS, REPOSITORY, launch_backfill, set_sensor, wait_for_backfill
from hokusai_assets_tests.services.topology_platform import RACE_TOKEN, RUN_TIMEOUT, champion_version, topology_platform


@pytest.fixture(scope="module")
def platform():
    with topology_platform() as running:
        yield running


def version_tags(platform, model_name: str) -> dict[int, dict[str, str]]:
    return {int(v.version): v.tags for v in platform.mlflow_client().search_model_versions(f"name = '{model_name}'")}


def half_bytes(which: int) -> bytes:
    frame = pd.read_csv(SAMPLES / "improving.csv")
    buffer = io.StringIO()
    (frame.iloc[:175] if which == 0 else frame.iloc[175:]).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def wait_for_chain(chain, token_id: str, links: int, partitions: list[str], timeout: float) -> list:
    """The token's chain once it has ``links`` links and none of ``partitions`` waits for a re-base."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = chain.active_links(token_id)
        if len(found) == links and not any(chain.rebase_requested(p) for p in partitions):
            return found
        time.sleep(2.0)
    raise TimeoutError(f"chain of {token_id}: {chain.active_links(token_id)}, re-bases {chain.pending_rebases()}")


def wait_for_runs_to_finish(platform, partition_keys: list[str], timeout: float) -> dict[str, list[dict]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {key: platform.runs_for_partition(key) for key in partition_keys}
        if all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for found in runs.values() for run in found):
            return runs
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs still going after {timeout:.0f} s: {runs}")
        time.sleep(2.0)


def test_a_graphql_backfill_of_racing_contributions_ends_as_one_linear_chain(platform):
    """Two improving contributions and a noisy one, backfilled at once: none is lost, the one that lost
    the chain's head is re-based by the daemon's re-base sensor, and the chain ends linear."""
    from hokusai.chain.ledger import Chain

    model_name = f"hokusai-{RACE_TOKEN}"
    files = {"first-half.csv": half_bytes(0), "second-half.csv": half_bytes(1),
             "label-noise.csv": (SAMPLES / "label-noise.csv").read_bytes()}
    set_sensor(platform, running=False)  # the operator's backfill, not the sensor, runs these
    try:
        partition_keys = []
        for name, body in files.items():
            _, partition_key = platform.drop(RACE_TOKEN, WALLET, name, body)
            added = platform.graphql(ADD_PARTITION, {"repo": REPOSITORY, "name": "contributions",
                                                     "key": partition_key})["addDynamicPartition"]
            assert added["__typename"] == "AddDynamicPartitionSuccess", added
            partition_keys.append(partition_key)
        started = time.monotonic()
        backfill_id = launch_backfill(platform, partition_keys)
        assert wait_for_backfill(platform, backfill_id, 3 * RUN_TIMEOUT) in ("COMPLETED", "COMPLETED_SUCCESS")
        print(f"backfill of {len(partition_keys)} partitions: {time.monotonic() - started:.1f} s")
    finally:
        set_sensor(platform, running=True)

    halves = partition_keys[:2]
    chain = Chain(platform.env["HOKUSAI_LEDGER_URL"])
    links = wait_for_chain(chain, RACE_TOKEN, 3, halves, 2 * RUN_TIMEOUT)
    assert {link.partition_key for link in links[1:]} == set(halves)
    for parent, child in zip(links, links[1:]):  # each claim's baseline is the link before it
        assert child.parent_commitment == parent.commitment
    runs = wait_for_runs_to_finish(platform, partition_keys, RUN_TIMEOUT)  # a re-base run may still register
    links = chain.active_links(RACE_TOKEN)
    for key, partition_runs in runs.items():
        assert all(run["status"] == "SUCCESS" for run in partition_runs), [
            platform.failure_messages(run["runId"]) for run in partition_runs]
        assert any(tag["key"] == "dagster/backfill" and tag["value"] == backfill_id
                   for tag in partition_runs[-1]["tags"])  # the first run of each came from the backfill
    rebased = [key for key in halves if len(runs[key]) > 1]
    print(f"re-based after losing the head: {rebased}")
    for key in halves:  # the last run of each half holds a claim on its link's parent
        materialized = platform.materializations(runs[key][0]["runId"])
        assert set(materialized) == ASSETS
        link = next(x for x in links if x.partition_key == key)
        assert materialized["attestation"]["chain_position"] == link.position
        assert materialized["registered_token_model"]["version"] == link.model_version
    assert champion_version(platform, model_name) == links[-1].model_version
    noise = platform.materializations(runs[partition_keys[2]][0]["runId"])
    assert noise["attestation"]["claim"].startswith("no claim: not eligible")
    assert noise["registered_token_model"]["champion_moved"] is False
    versions = version_tags(platform, model_name)
    assert len(versions) == 1 + sum(len(r) for r in runs.values())  # the baseline and one per run: none lost
