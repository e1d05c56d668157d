"""The drop-zone sensor over a local folder, called directly with a built context."""

import logging
from pathlib import Path

import pytest
from dagster import DagsterInstance, DefaultSensorStatus, SensorResult, build_sensor_context

from hokusai.drops.store import LocalFolderStore
from hokusai.drops.keys import partition_key_for
from resources.contribution_store import ContributionStoreResource, LocalContributionStoreResource
from resources.token_specs import TokenSpecsResource
from sensors.drop_zone import MAX_RUNS_PER_TICK, contribution_drop_sensor

WALLET = "0x" + "ab12" * 10


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append((record.levelno, record.getMessage()))


class _OutageStore(LocalFolderStore):
    def list_objects(self):
        raise ConnectionError("S3 endpoint unreachable")


class OutageStoreResource(ContributionStoreResource):
    def get_store(self):
        return _OutageStore(".")


@pytest.fixture(autouse=True)
def tokens_dir(tmp_path, monkeypatch):
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "digits-demo.yaml").write_text("irrelevant: true\n")
    return tokens


@pytest.fixture
def drops(tmp_path):
    return LocalFolderStore(tmp_path / "drops")


def evaluate(root, cursor=None, resource=None):
    context = build_sensor_context(
        cursor=cursor,
        instance=DagsterInstance.ephemeral(),
        resources={"contribution_store": resource or LocalContributionStoreResource(root=str(root)),
                   "token_specs": TokenSpecsResource(tokens_dir=str(Path(root).parent / "tokens"))},
    )
    records = _Records()
    context.log.addHandler(records)
    result = contribution_drop_sensor(context)
    assert isinstance(result, SensorResult)
    return result, records.messages


def test_sensor_definition():
    assert contribution_drop_sensor.name == "contribution_drop_sensor"
    assert contribution_drop_sensor.job_name == "evaluate_contribution"
    assert contribution_drop_sensor.minimum_interval_seconds == 15
    assert contribution_drop_sensor.default_status == DefaultSensorStatus.RUNNING


def test_a_dropped_file_gives_one_run_and_a_partition_then_nothing(drops):
    stored = drops.put_bytes(f"digits-demo/{WALLET}/data.csv", b"a,b\n1,2\n")
    result, _ = evaluate(drops.root)
    [request] = result.run_requests
    partition_key = f"digits-demo/{WALLET}/data.csv@{stored.etag[:12]}"
    assert partition_key_for(stored) == partition_key
    assert request.partition_key == partition_key
    assert request.run_key == f"{stored.key}@{stored.etag}"
    assert request.tags["hokusai/token_id"] == "digits-demo"
    assert request.tags["hokusai/wallet"] == WALLET
    [add] = result.dynamic_partitions_requests
    assert (add.partitions_def_name, list(add.partition_keys)) == ("contributions", [partition_key])
    assert result.skip_reason is None and result.cursor

    again, _ = evaluate(drops.root, cursor=result.cursor)
    assert not again.run_requests and not again.dynamic_partitions_requests
    assert again.skip_reason.skip_message.startswith("no new contributions")
    assert again.cursor == result.cursor


def test_files_in_wrong_places_are_skipped_and_logged(drops):
    misplaced = ["digits-demo/data.csv", f"other-token/{WALLET}/data.csv", f"digits-demo/{WALLET}/x.xlsx"]
    for key in misplaced:
        drops.put_bytes(key, b"a\n1\n")
    result, messages = evaluate(drops.root)
    assert not result.run_requests and result.skip_reason
    warnings = [message for level, message in messages if level == logging.WARNING]
    assert len(warnings) == 3
    assert any("digits-demo/data.csv: expected {token_id}/{wallet}/{file}" in m for m in warnings)
    assert any("other-token" in m and "unknown token" in m for m in warnings)
    assert any("unsupported file type '.xlsx'" in m for m in warnings)

    stored = drops.put_bytes(f"digits-demo/{WALLET}/good.csv", b"a\n1\n")
    later, messages = evaluate(drops.root, cursor=result.cursor)
    assert [r.run_key for r in later.run_requests] == [f"{stored.key}@{stored.etag}"]
    assert not messages  # skipped files are reported once, not every tick


def test_a_backlog_drains_at_most_max_runs_per_tick(drops):
    for i in range(MAX_RUNS_PER_TICK + 2):
        drops.put_bytes(f"digits-demo/{WALLET}/part-{i:02d}.csv", f"a\n{i}\n".encode())
    first, _ = evaluate(drops.root)
    second, _ = evaluate(drops.root, cursor=first.cursor)
    assert (len(first.run_requests), len(second.run_requests)) == (MAX_RUNS_PER_TICK, 2)
    keys = {r.partition_key for r in first.run_requests + second.run_requests}
    assert len(keys) == MAX_RUNS_PER_TICK + 2


@pytest.mark.parametrize("resource", ["outage", "missing-folder"])
def test_a_listing_failure_skips_without_moving_the_cursor(tmp_path, resource):
    store = OutageStoreResource() if resource == "outage" else None
    cursor = '{"mark":100.0,"seen":[]}'
    result, _ = evaluate(tmp_path / "nowhere", cursor=cursor, resource=store)
    assert not result.run_requests
    assert result.cursor == cursor
    message = result.skip_reason.skip_message
    assert message.startswith("could not list the drop zone:")
    assert ("S3 endpoint unreachable" if store else "does not exist") in message
