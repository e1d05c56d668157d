"""A contribution's status says "queued" / "running" from the Dagster instance's newest run of its partition."""

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from hokusai_assets.api_app import run_state_of

PARTITION = "digits-demo/0x00000000000000000000000000000000000d1617/rows.csv@abcdef123456"


def test_run_state_follows_the_newest_run_of_the_partition():
    instance = DagsterInstance.ephemeral()
    run_state = run_state_of(instance)
    assert run_state(PARTITION) is None
    for status, expected in ((DagsterRunStatus.NOT_STARTED, "queued"), (DagsterRunStatus.STARTED, "running"),
                             (DagsterRunStatus.SUCCESS, None)):
        instance.add_run(DagsterRun(job_name="evaluate_contribution", status=status,
                                    tags={"dagster/partition": PARTITION}))
        assert run_state(PARTITION) == expected, status
    assert run_state(PARTITION.replace("rows", "other")) is None
