"""Drop → attestation latency and a 20-partition backfill on the production topology.

Starts the platform of ``hokusai/harness/topology.py`` (PostgreSQL 15, SeaweedFS,
an MLflow server, and Dagster's code server, daemon and webserver on the production
instance) with the sensor's default 15 s interval, then:

1. drops ``--drops`` contributions one after another into the bucket and times each
   from the upload to its run's end (the attestation and registration are the last
   steps); the run's own start/end times split that into waiting for the sensor and
   the queue, launching the run worker, and the run itself;
2. stops the sensor and backfills ``--partitions`` partitions of a fresh token through
   the webserver's GraphQL, as the UI does, timing it from launch to the backfill's end;
3. times a cold import of the code location, which is what each step would pay under
   a step-per-process executor (the reason runs use the in-process executor).

    .venv/bin/python bench/topology_bench.py                 # 5 drops, 20-partition backfill
    .venv/bin/python bench/topology_bench.py --drops 2 --partitions 4
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hokusai.harness.topology import (  # noqa: E402
    ADD_PARTITION, ASSETS, REPOSITORY, launch_backfill, mock_bytes, running_platform, set_sensor, token_copies,
    wait_for_backfill)

WALLET = "0x00000000000000000000000000000000000d1617"

BACKFILL_TOKEN = "digits-backfill"


def drop_latencies(platform, drops: int) -> list[dict[str, float]]:
    results = []
    for seed in range(1, drops + 1):
        uploaded = time.time()
        _, partition_key = platform.drop("digits-demo", WALLET, f"bench-{seed}.csv", mock_bytes(seed))
        run = platform.wait_for_finished_run(partition_key, 600)
        finished = time.time()
        if run["status"] != "SUCCESS":
            raise RuntimeError(f"run {run['runId']} {run['status']}: {platform.failure_messages(run['runId'])}")
        row = {"drop_to_done": finished - uploaded, "drop_to_start": run["startTime"] - uploaded,
               "run": run["endTime"] - run["startTime"]}
        print(f"drop {seed}: {row['drop_to_done']:.1f} s (sensor + queue + launch {row['drop_to_start']:.1f} s, "
              f"run {row['run']:.1f} s)", flush=True)
        results.append(row)
    return results


def backfill_wall_time(platform, partitions: int) -> tuple[float, list[float]]:
    set_sensor(platform, running=False)
    keys = []
    for seed in range(100, 100 + partitions):
        _, key = platform.drop(BACKFILL_TOKEN, WALLET, f"bench-{seed}.csv", mock_bytes(seed))
        added = platform.graphql(ADD_PARTITION, {"repo": REPOSITORY, "name": "contributions", "key": key})
        assert added["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess", added
        keys.append(key)
    started = time.monotonic()
    backfill_id = launch_backfill(platform, keys)
    status = wait_for_backfill(platform, backfill_id, 60 * partitions)
    wall = time.monotonic() - started
    runs = [run for key in keys for run in platform.runs_for_partition(key)]
    failed = [run["runId"] for run in runs if run["status"] != "SUCCESS"]
    if status not in ("COMPLETED", "COMPLETED_SUCCESS") or failed or len(runs) != partitions:
        raise RuntimeError(f"backfill {status}, {len(runs)} runs, failed: {failed}")
    for run in runs[:1]:
        assert set(platform.materializations(run["runId"])) == ASSETS
    return wall, [run["endTime"] - run["startTime"] for run in runs]


def code_location_import_seconds(repeats: int = 3) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import hokusai_assets.definitions"], cwd=REPO, check=True)
        times.append(time.monotonic() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drops", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--sensor-interval", type=int, default=15)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="hokusai-topology-bench-"))
    tokens = token_copies(root, [BACKFILL_TOKEN])
    started = time.monotonic()
    with running_platform(root, sensor_interval_seconds=args.sensor_interval,
                          extra_env={"HOKUSAI_TOKENS_DIR": str(tokens)}) as platform:
        print(f"platform up in {time.monotonic() - started:.1f} s", flush=True)
        drops = drop_latencies(platform, args.drops)
        wall, run_times = backfill_wall_time(platform, args.partitions)
    imports = code_location_import_seconds()

    def median(values):
        return statistics.median(values)

    if drops:
        print(f"\ndrop -> attestation + registration, median of {len(drops)}: "
              f"{median([d['drop_to_done'] for d in drops]):.1f} s (target <= 45 s with a "
              f"{args.sensor_interval} s sensor interval); runs: {[round(d['drop_to_done'], 1) for d in drops]}")
        print(f"  of which sensor + queue + launch: {median([d['drop_to_start'] for d in drops]):.1f} s, "
              f"the run itself: {median([d['run'] for d in drops]):.1f} s")
    print(f"backfill of {args.partitions} partitions: {wall:.1f} s wall "
          f"({args.partitions / wall * 60:.1f} partitions/min); run durations median {median(run_times):.1f} s, "
          f"max {max(run_times):.1f} s")
    print(f"cold import of the code location: median {median(imports):.2f} s "
          f"({[round(t, 2) for t in imports]}); a step-per-process executor pays it for each of the run's "
          f"{len(ASSETS)} steps and 2 checks")


if __name__ == "__main__":
    main()
