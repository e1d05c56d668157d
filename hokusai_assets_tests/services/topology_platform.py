"""The production topology ``test_topology.py`` and ``test_backfill_race.py`` run on, one platform per file.

Two files so that the suite's two workers (``--dist loadfile``) can each take one: the
backfill race alone is about as long as the other three tests together, and its file is
collected early among the services files (the long ones should start first). Each file builds
the same platform (``running_platform`` with the same tokens and environment), so a test
sees exactly what it saw when the four shared one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hokusai.harness.topology import Platform, running_platform, token_copies
from hokusai_assets_tests.conftest import SAMPLES

RUN_TIMEOUT = 240.0
RACE_TOKEN, MLFLOW_FAULT_TOKEN, PG_FAULT_TOKEN = "digits-race", "digits-mlflow-down", "digits-pg-restart"


@contextmanager
def topology_platform() -> Iterator[Platform]:
    """Everything up in a fresh folder: each token here is a copy of the demo token with only its baseline."""
    root = Path(tempfile.mkdtemp(prefix="hokusai-topology-"))
    # The race token's minimum is 20 bps, so both halves of improving.csv are eligible in turn
    # (conftest.CHAIN_TOKEN says why).
    tokens = token_copies(root, [RACE_TOKEN, MLFLOW_FAULT_TOKEN, PG_FAULT_TOKEN],
                          overrides={RACE_TOKEN: {"min_improvement_bps": 20}})
    extra = {
        "HOKUSAI_TOKENS_DIR": str(tokens),
        # Fail fast inside MLflow's client so the step's own retry policy is what is seen.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
        "HOKUSAI_STEP_RETRIES": "2", "HOKUSAI_STEP_RETRY_DELAY_SECONDS": "1",
    }
    with running_platform(root, sensor_interval_seconds=3, extra_env=extra) as running:
        yield running


def improving_bytes() -> bytes:
    return (SAMPLES / "improving.csv").read_bytes()


def champion_version(platform: Platform, model_name: str) -> int:
    return int(platform.mlflow_client().get_model_version_by_alias(model_name, "champion").version)
