"""A file dropped into the drop zone becomes one partition and one run, exactly once."""

from dagster import DagsterInstance, build_sensor_context

from hokusai.drops.store import LocalFolderStore
from hokusai_assets.definitions import build_definitions
from hokusai_assets.partitions import CONTRIBUTIONS_PARTITIONS_NAME
from hokusai_assets_tests.conftest import SAMPLES, WALLET, isolated_settings
from sensors.drop_zone import contribution_drop_sensor


def test_dropped_file_is_picked_up_once_and_evaluated(tmp_path, shared_cache):
    settings = isolated_settings(tmp_path / "state", shared_cache)
    definitions = build_definitions(settings)
    store = LocalFolderStore(settings.drop_zone)
    store.put_bytes(f"digits-demo/{WALLET}/improving.csv", (SAMPLES / "improving.csv").read_bytes())
    store.put_bytes(f"digits-demo/{WALLET}/notes.txt", b"not a contribution")

    with DagsterInstance.ephemeral() as instance:
        resources = {name: definitions.resources[name] for name in ("contribution_store", "token_specs")}
        first = contribution_drop_sensor(build_sensor_context(instance=instance, resources=resources))
        assert len(first.run_requests) == 1
        request = first.run_requests[0]
        assert request.partition_key.startswith(f"digits-demo/{WALLET}/improving.csv@")
        assert request.run_key.startswith(f"digits-demo/{WALLET}/improving.csv@")
        assert first.dynamic_partitions_requests[0].partition_keys == [request.partition_key]

        replay = contribution_drop_sensor(
            build_sensor_context(instance=instance, resources=resources, cursor=first.cursor)
        )
        assert not replay.run_requests

        # A sensor call in a test does not add its partitions: do what the daemon does.
        instance.add_dynamic_partitions(CONTRIBUTIONS_PARTITIONS_NAME, [request.partition_key])
        result = definitions.resolve_job_def("evaluate_contribution").execute_in_process(
            partition_key=request.partition_key, instance=instance
        )
        assert result.success
        assert result.output_for_node("delta_one")["delta_computation"]["delta_one_bps"] > 0


def test_a_partition_registered_by_the_cli_is_not_run_again(tmp_path, shared_cache):
    settings = isolated_settings(tmp_path / "state", shared_cache)
    definitions = build_definitions(settings)
    store = LocalFolderStore(settings.drop_zone)
    stored = store.put_bytes(f"digits-demo/{WALLET}/improving.csv", (SAMPLES / "improving.csv").read_bytes())
    from hokusai.drops.keys import partition_key_for

    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(CONTRIBUTIONS_PARTITIONS_NAME, [partition_key_for(stored)])
        resources = {name: definitions.resources[name] for name in ("contribution_store", "token_specs")}
        result = contribution_drop_sensor(build_sensor_context(instance=instance, resources=resources))
        assert not result.run_requests
        assert result.cursor  # the cursor still moves past it
