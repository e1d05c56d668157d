"""The S3 contribution store and the unchanged drop-zone sensor against a real S3 server (SeaweedFS).

One SeaweedFS serves the whole module; each test works under a prefix of its own.
Credentials reach the code only as AWS_* environment variables (boto3's default chain).
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context

from hokusai.drops.store import ContributionChangedError, ContributionMissingError, resolve_partition
from hokusai.drops.keys import caught_up_cursor, partition_key_for, plan_drops
from hokusai.drops.s3 import S3ContributionStore, contribution_store_for
from hokusai.settings import REPO_ROOT, load_settings
from hokusai_assets_tests.conftest import DEMO_TOKEN, SAMPLES, WALLET
from hokusai.harness.servers import seaweedfs
from resources import build_resources
from resources.contribution_store import LocalContributionStoreResource
from resources.s3_contribution_store import S3ContributionStoreResource
from resources.token_specs import TokenSpecsResource
from sensors.drop_zone import MAX_RUNS_PER_TICK, contribution_drop_sensor

BUCKET = "drops"
SEEDED_OBJECTS = 10_050  # > 10 pages of 1,000


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs"), buckets=(BUCKET,)) as server:
        yield server


@pytest.fixture(scope="module")
def s3_env(s3_server):
    """The server's keys as AWS_* variables, the repo's token specs, nothing from ~/.aws."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        for name, value in s3_server.env().items():
            patch.setenv(name, value)
        yield patch


def resource_for(s3_server, prefix):
    return S3ContributionStoreResource(bucket=BUCKET, prefix=prefix, endpoint_url=s3_server.endpoint_url)


@pytest.fixture
def prefix():
    return f"tests/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def resource(s3_server, s3_env, prefix):
    return resource_for(s3_server, prefix)


@pytest.fixture
def store(resource):
    return resource.get_store()


def tick(resource, cursor=None, instance=None):
    context = build_sensor_context(cursor=cursor, instance=instance or DagsterInstance.ephemeral(),
                                   resources={"contribution_store": resource,
                                              "token_specs": TokenSpecsResource(tokens_dir=str(REPO_ROOT / "tokens"))})
    return contribution_drop_sensor(context)


def drop_key(name, wallet=WALLET):
    return f"{DEMO_TOKEN}/{wallet}/{name}"


def test_settings_choose_s3_when_a_bucket_is_set(tmp_path):
    env = {"HOKUSAI_HOME": str(tmp_path), "HOKUSAI_S3_BUCKET": "hokusai-drops", "HOKUSAI_S3_PREFIX": "/in/",
           "HOKUSAI_S3_ENDPOINT_URL": "http://127.0.0.1:9000", "HOKUSAI_S3_REGION": "eu-west-1",
           "HOKUSAI_S3_PATH_STYLE": "false"}
    s3 = build_resources(load_settings(env))["contribution_store"]
    assert isinstance(s3, S3ContributionStoreResource)
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region_name, s3.path_style) == (
        "hokusai-drops", "in", "http://127.0.0.1:9000", "eu-west-1", False)
    from dagster_aws.s3 import S3Resource

    assert isinstance(s3, S3Resource)  # dagster-aws's resource, with what a drop zone needs beside it
    config = s3.get_client().meta.config
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (5, 30, 4)
    assert config.s3["addressing_style"] == "auto" and config.request_checksum_calculation == "when_required"
    assert s3.get_store().client.meta.config.connect_timeout == 5  # the store uses the resource's client
    store = contribution_store_for(load_settings(env))
    assert isinstance(store, S3ContributionStore) and store.uri("a/b.csv") == "s3://hokusai-drops/in/a/b.csv"

    local = build_resources(load_settings({"HOKUSAI_HOME": str(tmp_path)}))["contribution_store"]
    assert isinstance(local, LocalContributionStoreResource) and local.root == str(tmp_path / "drop-zone")
    assert load_settings({"HOKUSAI_S3_BUCKET": "b"}).s3_path_style is True
    with pytest.raises(ValueError, match="HOKUSAI_S3_PATH_STYLE must be true or false"):
        load_settings({"HOKUSAI_S3_PATH_STYLE": "maybe"})


def test_store_put_stat_read_list_and_uri(store, prefix, s3_server):
    body = b"a,b\n1,2\n"
    stored = store.put_bytes(drop_key("data.csv"), body)
    assert stored.etag == hashlib.md5(body).hexdigest()  # bare, lowercase
    assert stored.size == len(body)
    assert stored.last_modified == int(stored.last_modified) and abs(stored.last_modified - time.time()) < 120
    assert store.stat(stored.key) == stored
    assert store.read_bytes(stored.key) == body
    assert list(store.list_objects()) == [stored]
    assert store.uri(stored.key) == f"s3://{BUCKET}/{prefix}/{stored.key}"

    s3_server.client().put_object(Bucket=BUCKET, Key=f"{prefix}/{DEMO_TOKEN}/", Body=b"")  # a console's folder
    assert [obj.key for obj in store.list_objects()] == [stored.key]
    with pytest.raises(FileNotFoundError, match="no object at s3://"):
        store.stat(drop_key("missing.csv"))
    with pytest.raises(FileNotFoundError):
        store.read_bytes(drop_key("missing.csv"))
    with pytest.raises(ValueError):
        store.stat(f"{DEMO_TOKEN}/../escape.csv")


def test_put_file_streams_one_part_whose_etag_is_the_md5(store, tmp_path):
    """What the API's upload does with a spooled file: one PUT from the file, the same ETag as put_bytes."""
    body = bytes(range(256)) * 40_000  # 10 MB
    spooled = tmp_path / "upload.part"
    spooled.write_bytes(body)
    stored = store.put_file(drop_key("spooled.csv"), spooled)
    assert stored.etag == hashlib.md5(body).hexdigest() and stored.size == len(body)
    assert store.read_bytes(stored.key) == body


def test_multipart_etags_make_partition_keys(store, prefix, s3_server):
    client, key = s3_server.client(), f"{prefix}/{drop_key('big.csv')}"
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)
    parts = []
    for number, chunk in enumerate((b"a\n" + b"1\n" * (3 << 20), b"2\n"), start=1):
        part = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=number, Body=chunk)
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    client.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})
    [listed] = store.list_objects()
    assert listed.etag.endswith("-2") and listed.etag == store.stat(listed.key).etag
    assert resolve_partition(store, partition_key_for(listed)) == listed
    assert store.read_version(listed) == b"a\n" + b"1\n" * (3 << 20) + b"2\n"


def test_reading_a_version_that_was_overwritten_fails_instead_of_reading_the_new_one(store):
    first = store.put_bytes(drop_key("raced.csv"), b"digit\n1\n")
    assert store.read_version(first) == b"digit\n1\n"
    second = store.put_bytes(drop_key("raced.csv"), b"digit\n2\n")  # lands between the stat and the GET
    with pytest.raises(ContributionChangedError, match=f"ETag {second.etag[:12]}, partition {first.etag[:12]}"):
        store.read_version(first)
    assert store.read_version(second) == b"digit\n2\n"


def test_resolve_partition_over_s3(store):
    stored = store.put_bytes(drop_key("data.csv"), b"a\n1\n")
    partition_key = partition_key_for(stored)
    assert resolve_partition(store, partition_key) == stored
    store.put_bytes(stored.key, b"a\n2\n")
    with pytest.raises(ContributionChangedError, match="was replaced"):
        resolve_partition(store, partition_key)
    store.client.delete_object(Bucket=BUCKET, Key=f"{store.prefix}/{stored.key}")
    with pytest.raises(ContributionMissingError, match="is gone"):
        resolve_partition(store, partition_key)


def test_a_dropped_file_gives_one_run_with_its_partition_then_nothing(resource, store):
    stored = store.put_bytes(drop_key("data.csv"), b"a,b\n1,2\n")
    store.put_bytes(f"{DEMO_TOKEN}/notes.txt", b"misplaced")
    first = tick(resource)
    [request] = first.run_requests
    assert request.partition_key == f"{DEMO_TOKEN}/{WALLET}/data.csv@{stored.etag[:12]}"
    assert request.run_key == f"{stored.key}@{stored.etag}"
    assert request.tags == {"hokusai/token_id": DEMO_TOKEN, "hokusai/wallet": WALLET}
    [add] = first.dynamic_partitions_requests
    assert list(add.partition_keys) == [request.partition_key]

    replay = tick(resource, cursor=first.cursor)
    assert not replay.run_requests and replay.cursor == first.cursor
    assert replay.skip_reason.skip_message.startswith("no new contributions")


def test_an_upload_in_the_same_second_as_the_cursor_is_not_missed(s3_server, s3_env, prefix):
    for attempt in range(5):
        time.sleep(1.02 - time.time() % 1)  # start just after a second boundary
        resource = resource_for(s3_server, f"{prefix}/{attempt}")
        store = resource.get_store()
        first = store.put_bytes(drop_key("first.csv"), b"a\n1\n")
        first_tick = tick(resource)
        second = store.put_bytes(drop_key("second.csv"), b"a\n2\n")
        if second.last_modified == first.last_modified:
            break
    else:
        pytest.fail("could not land two uploads and a tick within one second in 5 tries")
    assert [r.run_key for r in first_tick.run_requests] == [f"{first.key}@{first.etag}"]
    assert json.loads(first_tick.cursor)["mark"] == first.last_modified  # the cursor sits on that second

    next_tick = tick(resource, cursor=first_tick.cursor)
    assert [r.run_key for r in next_tick.run_requests] == [f"{second.key}@{second.etag}"]
    assert not tick(resource, cursor=next_tick.cursor).run_requests


def test_an_overwrite_with_new_content_is_a_new_contribution(resource, store):
    original = store.put_bytes(drop_key("data.csv"), b"a\n1\n")
    first = tick(resource)
    replaced = store.put_bytes(original.key, b"a\n1\n2\n")
    assert replaced.etag != original.etag
    second = tick(resource, cursor=first.cursor)
    [request] = second.run_requests
    assert request.run_key == f"{original.key}@{replaced.etag}"
    assert request.partition_key == partition_key_for(replaced) != first.run_requests[0].partition_key


def test_a_backlog_drains_at_most_max_runs_per_tick(resource, store):
    for index in range(MAX_RUNS_PER_TICK + 2):
        store.put_bytes(drop_key(f"part-{index:02d}.csv"), f"a\n{index}\n".encode())
    first = tick(resource)
    second = tick(resource, cursor=first.cursor)
    assert (len(first.run_requests), len(second.run_requests)) == (MAX_RUNS_PER_TICK, 2)
    assert len({r.partition_key for r in first.run_requests + second.run_requests}) == MAX_RUNS_PER_TICK + 2
    assert not tick(resource, cursor=second.cursor).run_requests


@pytest.fixture(scope="module")
def seeded(s3_server, tmp_path_factory):
    """10,050 contributions from 100 wallets under one prefix, seeded once for the module."""
    prefix = "seeded"
    objects = [(f"{prefix}/{DEMO_TOKEN}/0x{index % 100:040x}/part-{index:05d}.csv", f"a\n{index}\n".encode())
               for index in range(SEEDED_OBJECTS)]
    started = time.perf_counter()
    s3_server.bulk_put(BUCKET, objects)
    print(f"seeded {len(objects)} objects in {time.perf_counter() - started:.1f} s")
    return prefix


def test_the_sensor_pages_through_ten_thousand_objects_and_finds_the_new_one(s3_server, s3_env, seeded):
    resource = resource_for(s3_server, seeded)
    store = resource.get_store()
    pages = []
    store.client.meta.events.register("before-call.s3.ListObjectsV2", lambda **kwargs: pages.append(1))
    listing = list(store.list_objects())
    assert len(listing) == SEEDED_OBJECTS and len(pages) == -(-SEEDED_OBJECTS // 1000)
    assert len({obj.key for obj in listing}) == SEEDED_OBJECTS
    assert all(obj.etag == hashlib.md5(f"a\n{int(obj.key[-9:-4])}\n".encode()).hexdigest() for obj in listing)

    backlog = tick(resource)  # no cursor: the oldest MAX_RUNS_PER_TICK of 10,050
    assert len(backlog.run_requests) == MAX_RUNS_PER_TICK

    # As if every seeded object had been handled: the next tick must find the one new drop among them.
    caught_up = caught_up_cursor(listing)
    new = store.put_bytes(drop_key("new.csv", wallet="0x" + "ef" * 20), b"a\n-1\n")
    started = time.perf_counter()
    result = tick(resource, cursor=caught_up)
    elapsed = time.perf_counter() - started
    assert [r.run_key for r in result.run_requests] == [f"{new.key}@{new.etag}"]
    print(f"sensor tick over {SEEDED_OBJECTS + 1} objects: {elapsed:.2f} s")


def test_an_s3_outage_or_bad_credentials_skip_without_moving_the_cursor(s3_server, s3_env, resource, store):
    first = store.put_bytes(drop_key("first.csv"), b"a\n1\n")
    before = tick(resource)
    assert [r.run_key for r in before.run_requests] == [f"{first.key}@{first.etag}"]
    pending = store.put_bytes(drop_key("pending.csv"), b"a\n2\n")

    s3_env.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    refused = tick(resource, cursor=before.cursor)
    s3_env.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    assert not refused.run_requests and refused.cursor == before.cursor
    assert refused.skip_reason.skip_message.startswith("could not list the drop zone: ClientError")
    assert "SignatureDoesNotMatch" in refused.skip_reason.skip_message

    s3_server.stop()
    try:
        started = time.perf_counter()
        down = tick(resource, cursor=before.cursor)
        assert time.perf_counter() - started < 15  # fails fast: the next tick retries
        assert not down.run_requests and down.cursor == before.cursor
        assert down.skip_reason.skip_message.startswith("could not list the drop zone: EndpointConnectionError")
    finally:
        s3_server.start()

    recovered = tick(resource, cursor=down.cursor)
    assert [r.run_key for r in recovered.run_requests] == [f"{pending.key}@{pending.etag}"]


def test_contributed_dataset_materializes_from_s3(s3_server, s3_env, prefix, tmp_path, shared_cache):
    """The assets read their partition from the bucket the environment names (no run config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(tmp_path / "state"), "HOKUSAI_CACHE_DIR": str(shared_cache),
                "HOKUSAI_S3_BUCKET": BUCKET, "HOKUSAI_S3_PREFIX": prefix,
                "HOKUSAI_S3_ENDPOINT_URL": s3_server.endpoint_url})
    settings = load_settings(env)
    from hokusai_assets.definitions import build_definitions

    definitions = build_definitions(settings)
    resource = definitions.resources["contribution_store"]
    assert isinstance(resource, S3ContributionStoreResource) and resource.prefix == prefix
    stored = resource.get_store().put_bytes(drop_key("improving.csv"), (SAMPLES / "improving.csv").read_bytes())

    with DagsterInstance.ephemeral() as instance:
        [request] = tick(resource, instance=instance).run_requests
        instance.add_dynamic_partitions("contributions", [request.partition_key])
        result = definitions.resolve_job_def("evaluate_contribution").execute_in_process(
            partition_key=request.partition_key, instance=instance,
            asset_selection=[AssetKey("contributed_dataset"), AssetKey("baseline_model"), AssetKey("clean_dataset")])
        assert result.success
        [materialization] = [m for m in result.asset_materializations_for_node("contributed_dataset")]
        metadata = materialization.metadata
        assert metadata["source_uri"].value == f"s3://{BUCKET}/{prefix}/{stored.key}"
        assert metadata["etag"].value == stored.etag
        assert metadata["sha256"].value == hashlib.sha256((SAMPLES / "improving.csv").read_bytes()).hexdigest()


def test_the_cli_drops_into_the_bucket_and_evaluates_from_it(s3_server, s3_env, prefix, tmp_path, shared_cache):
    """`hokusai evaluate` with HOKUSAI_S3_BUCKET set: the upload lands in the bucket, its partition names the ETag."""
    hokusai = Path(sys.executable).parent / "hokusai"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOKUSAI_", "MLFLOW_"))}
    env.update({"HOKUSAI_HOME": str(tmp_path / "state"), "HOKUSAI_CACHE_DIR": str(shared_cache),
                "HOKUSAI_S3_BUCKET": BUCKET, "HOKUSAI_S3_PREFIX": prefix,
                "HOKUSAI_S3_ENDPOINT_URL": s3_server.endpoint_url})
    done = subprocess.run([str(hokusai), "evaluate", str(SAMPLES / "improving.csv"), "--token", DEMO_TOKEN,
                           "--wallet", WALLET, "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    key = f"{prefix}/{DEMO_TOKEN}/{WALLET.lower()}/improving.csv"
    head = s3_server.client().head_object(Bucket=BUCKET, Key=key)
    assert summary["partition_key"] == f"{DEMO_TOKEN}/{WALLET.lower()}/improving.csv@{head['ETag'].strip(chr(34))[:12]}"
    assert summary["status"] == "evaluated" and summary["eligible"] is True
    assert not (tmp_path / "state" / "drop-zone").exists()  # nothing went to the local folder
