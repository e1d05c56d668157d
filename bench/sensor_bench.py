"""Benchmark: one drop-zone sensor tick over 10,000 objects in a real S3 server (SeaweedFS).

Each measured tick is what the daemon runs: build the store from the resource (a fresh
boto3 client), list the whole prefix page by page, plan against a cursor that has
already seen every seeded object, and turn the one new upload into a run request.
A new file is dropped before each tick, so every tick has exactly one to find.
Target: median <= 2 s. Also printed: the seeding rates (filer HTTP vs signed S3 PUTs)
and the listing alone.

Usage: .venv/bin/python bench/sensor_bench.py [--objects 10000] [--repeats 5]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from dagster import DagsterInstance, build_sensor_context  # noqa: E402

from hokusai.drops.keys import caught_up_cursor  # noqa: E402
from hokusai.harness.servers import seaweedfs  # noqa: E402
from resources.s3_contribution_store import S3ContributionStoreResource  # noqa: E402
from resources.token_specs import TokenSpecsResource  # noqa: E402
from sensors.drop_zone import contribution_drop_sensor  # noqa: E402

BUCKET = "drops"
PREFIX = "bench"
TOKEN = "digits-demo"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--s3-put-sample", type=int, default=1_000,
                        help="signed S3 PUTs timed to compare with the filer seeding")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sensor-bench-") as root, seaweedfs(Path(root), (BUCKET,)) as s3:
        os.environ.update(s3.env())
        objects = [(f"{PREFIX}/{TOKEN}/0x{i % 100:040x}/part-{i:05d}.csv", f"a\n{i}\n".encode())
                   for i in range(args.objects)]
        started = time.perf_counter()
        s3.bulk_put(BUCKET, objects)
        seed_seconds = time.perf_counter() - started

        client = s3.client()
        sample = [(f"put-sample/{TOKEN}/0x{i % 100:040x}/p-{i:05d}.csv", b"a\n1\n") for i in range(args.s3_put_sample)]
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda item: client.put_object(Bucket=BUCKET, Key=item[0], Body=item[1]), sample))
        put_seconds = time.perf_counter() - started

        resource = S3ContributionStoreResource(bucket=BUCKET, prefix=PREFIX, endpoint_url=s3.endpoint_url)
        specs = TokenSpecsResource(tokens_dir=str(REPO_ROOT / "tokens"))
        listing = list(resource.get_store().list_objects())
        assert len(listing) == args.objects
        cursor = caught_up_cursor(listing)

        list_times, tick_times = [], []
        with DagsterInstance.ephemeral() as instance:
            for attempt in range(args.repeats + 1):  # the first tick is a warm-up (imports, model loading)
                store = resource.get_store()
                store.put_bytes(f"{TOKEN}/0x{'ef' * 20}/new-{attempt}.csv", f"a\n{attempt}\n".encode())
                started = time.perf_counter()
                count = sum(1 for _ in resource.get_store().list_objects())
                listed = time.perf_counter() - started
                context = build_sensor_context(cursor=cursor, instance=instance,
                                               resources={"contribution_store": resource, "token_specs": specs})
                started = time.perf_counter()
                result = contribution_drop_sensor(context)
                ticked = time.perf_counter() - started
                assert len(result.run_requests) == 1 and count == args.objects + attempt + 1, result
                cursor = result.cursor
                if attempt:
                    list_times.append(round(listed, 2))
                    tick_times.append(round(ticked, 2))

    print(json.dumps({
        "objects": args.objects,
        "sensor_tick_s": {"median": round(statistics.median(tick_times), 2), "runs": tick_times,
                          "target": 2.0},
        "listing_only_s": {"median": round(statistics.median(list_times), 2), "runs": list_times},
        "seed_filer_http_objects_per_s": round(args.objects / seed_seconds),
        "seed_s3_put_objects_per_s": round(args.s3_put_sample / put_seconds),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
