"""Configuration from the environment, read in one place.

Every setting has a default that works on a laptop with nothing running: state
under ``./.hokusai`` (Dagster home, MLflow SQLite store, keys, outputs), the demo
tokens shipped in the repo, a local drop-zone folder, the claims ledger in SQLite,
no relayer (claims settle locally). Setting ``HOKUSAI_S3_BUCKET`` moves the drop
zone to S3 (credentials from boto3's default chain, never here);
``HOKUSAI_LEDGER_URL`` and ``HOKUSAI_RELAYER_REDIS_URL`` move the ledger to
PostgreSQL and hand claims to the relayer's Redis; ``HOKUSAI_CHAIN_RPC_URL`` makes the
attestation read the model's on-chain head before it signs a claim.

Settings never hold a secret's value, only the names of the secret variables that are
set (``secret_variables``): resources take those as ``dagster.EnvVar``, which Dagster
resolves when a run starts and shows in the UI by name alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hokusai.claims.attester_keys import ENV_VAR as ATTESTER_KEY_VAR
from hokusai.intake.limits import LoadLimits
from hokusai.rules.token_ids import token_experiment_name
from hokusai.rules.redaction import uri_has_password
from hokusai.pii.secret import ENV_VAR as PII_SECRET_VAR

REPO_ROOT = Path(__file__).resolve().parents[1]
# A checkout's two source folders: the platform's and the SDK's (sdk/), the two portions of the
# `hokusai` namespace package. A subprocess that must run this checkout's code gets both on PYTHONPATH.
SOURCE_PATH = f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'sdk'}"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
DEFAULT_DEADLINE_SECONDS = 5 * 24 * 3600
TRACKING_URI_VAR = "MLFLOW_TRACKING_URI"
LEDGER_URL_VAR = "HOKUSAI_LEDGER_URL"
RELAYER_REDIS_URL_VAR = "HOKUSAI_RELAYER_REDIS_URL"
API_DATABASE_URL_VAR = "HOKUSAI_API_DATABASE_URL"
API_REDIS_URL_VAR = "HOKUSAI_API_REDIS_URL"
API_MLFLOW_URL_VAR = "HOKUSAI_API_MLFLOW_URL"
# The REST API's key-hash pepper (and the key of its session tokens): a secret, read by name.
API_KEY_PEPPER_VAR = "HOKUSAI_API_KEY_PEPPER"
# The chain's JSON-RPC endpoint; providers put the API key in the path or query, so it is a
# secret whenever it is set (never shown, always an EnvVar), whatever its shape.
CHAIN_RPC_URL_VAR = "HOKUSAI_CHAIN_RPC_URL"
# URLs that may carry a password: given to resources as EnvVar when they do
URL_VARIABLES = (TRACKING_URI_VAR, LEDGER_URL_VAR, RELAYER_REDIS_URL_VAR, API_DATABASE_URL_VAR, API_REDIS_URL_VAR)


@dataclass(frozen=True)
class Settings:
    home: Path
    cache_dir: Path
    tokens_dir: Path
    drop_zone: Path
    mlflow_tracking_uri: str
    mlflow_artifact_root: str | None
    mlflow_experiment_name: str | None
    chain_id: int
    verifying_contract: str
    deadline_seconds: int
    max_cost_usd_micro: int
    max_upload_bytes: int
    max_rows: int
    max_columns: int
    max_benchmark_share: float
    test_mode: bool
    log_level: str | None  # None: the CLI stays quiet; Dagster's event log keeps everything
    random_seed: int
    # The S3 drop zone; the local folder ``drop_zone`` when no bucket is set.
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None  # None: AWS; e.g. http://minio:9000 for MinIO or SeaweedFS
    s3_region: str | None = None  # None: boto3's default chain (AWS_REGION, profile)
    s3_path_style: bool = True  # http://host/bucket/key, what MinIO and SeaweedFS answer by default
    # Step outputs (Dagster's IO manager): None = files under the instance's storage on this host;
    # a bucket = pickles in s3://bucket/prefix/ (dagster-aws), so steps may run on other hosts.
    io_bucket: str | None = None
    io_prefix: str = "dagster-io"
    # "in_process" (one process per run: imports the code location once) or "multiprocess"
    # (a process per step; with io_bucket set, their outputs meet in the bucket).
    step_executor: str = "in_process"
    sensor_interval_seconds: int = 15  # how often the daemon lists the drop zone
    # The LM of DSPy tokens (hokusai.dspy): None = the token spec's (the deterministic local LM by default).
    # e.g. openai/gpt-4o-mini (key: OPENAI_API_KEY, read by LiteLLM itself), ollama_chat/llama3.2, or
    # openai/<model> with HOKUSAI_DSPY_API_BASE=http://localhost:8000/v1 for an OpenAI-compatible server.
    dspy_model: str | None = None
    dspy_api_base: str | None = None
    # The DSPy programs POST /api/v1/dspy/execute serves: every *.yaml loader config in this folder
    # (hokusai.dspy.DSPyModelLoader.load_from_config); None = none served.
    dspy_programs_dir: Path | None = None
    step_retries: int = 3  # retries of a step that talks to MLflow (server down, network blip)
    step_retry_delay_seconds: int = 10  # the first retry's delay; it doubles each time
    intake_workers: int = 2  # processes hashing a large upload (hokusai.workers); 0 or 1: none
    # The claims outbox (and the lineage chain's tables): None = SQLite under the state folder.
    # PostgreSQL: postgresql+psycopg2://user:password@host/db (the password only from the environment).
    ledger_url: str | None = None
    # The relayer's Redis (redis://:password@host:port/db); None: claims settle locally at once.
    relayer_redis_url: str | None = None
    budget_retry_seconds: int | None = None  # re-publish budget_blocked claims after this; None: on request
    # The REST API (hokusai/api): where it listens, its key store, rate limits, its MLflow upstream.
    api_host: str = "127.0.0.1"
    api_port: int = 8001
    api_database_url: str | None = None  # None: the ledger's database (SQLite on the embedded default)
    api_redis_url: str | None = None  # None: in-process rate limits (one API process)
    api_mlflow_url: str | None = None  # None: the tracking URI when it is an http(s) server
    rate_limit_requests: int = 100
    rate_limit_period: int = 60
    rate_limit_mlflow_requests: int = 2000  # the proxy's own bucket: one log_model is 30-40 requests
    # How long an API process keeps a verified key's row: the bound on a revocation taking effect.
    api_key_cache_seconds: float = 2.0
    siwe_domain: str = "127.0.0.1:8001"  # what a sign-in message must name (EIP-4361 domain)
    siwe_uri: str = "http://127.0.0.1:8001"
    siwe_session_seconds: int = 900
    # Browser origins allowed to call the API (exact scheme://host[:port]; no wildcard); none by default.
    api_cors_origins: tuple[str, ...] = ()
    # The deployment's Dagster instance (DAGSTER_HOME, Dagster's own variable: the folder of the
    # dagster.yaml every Dagster process loads), where the API reads run states; None: the embedded
    # instance under ``home/dagster`` that the CLI uses.
    dagster_instance_home: Path | None = None
    # The chain's JSON-RPC (may hold an API key); set: read the model's head before signing a claim.
    chain_rpc_url: str | None = field(default=None, repr=False)
    chain_rpc_timeout_seconds: float = 10.0

    @property
    def ledger_database_url(self) -> str:
        return self.ledger_url or f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def api_keys_database_url(self) -> str:
        return self.api_database_url or self.ledger_database_url

    @property
    def mlflow_upstream_url(self) -> str | None:
        """The MLflow server the API proxies to; None when MLflow is a local store with no server."""
        if self.api_mlflow_url:
            return self.api_mlflow_url.rstrip("/")
        if self.mlflow_tracking_uri.startswith(("http://", "https://")):
            return self.mlflow_tracking_uri.rstrip("/")
        return None
    # Names (never values) of the set variables that hold a secret: the attester key, the PII
    # secret, the chain RPC URL, and the URLs of URL_VARIABLES when they carry a password.
    secret_variables: frozenset[str] = frozenset()

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def api_dagster_home(self) -> Path:
        """The instance whose runs the API reports: the deployment's when DAGSTER_HOME is set."""
        return self.dagster_instance_home or self.dagster_home

    @property
    def upload_spool_dir(self) -> Path:
        """Where the API streams an upload before it goes into the drop zone (never the drop zone)."""
        return self.home / "uploads"

    @property
    def outputs_dir(self) -> Path:
        return self.home / "outputs"

    def experiment_name(self, token_id: str) -> str:
        """One MLflow experiment per token unless MLFLOW_EXPERIMENT_NAME pins one."""
        return self.mlflow_experiment_name or token_experiment_name(token_id)


STEP_EXECUTORS = ("in_process", "multiprocess")


def default_intake_workers() -> int:
    """Worker processes for a large upload when none are configured: the CPU count, at most 4."""
    return min(os.cpu_count() or 1, 4)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (the process environment by default)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOKUSAI_HOME", ".hokusai")).resolve()
    tracking_uri = env.get(TRACKING_URI_VAR) or (
        f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
    )
    local_store = tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri
    artifact_root = env.get("HOKUSAI_MLFLOW_ARTIFACT_ROOT") or (
        (home / "mlflow" / "artifacts").as_uri() if local_store else None
    )
    return Settings(
        home=home,
        cache_dir=Path(env.get("HOKUSAI_CACHE_DIR", home / "cache")).resolve(),
        tokens_dir=Path(env.get("HOKUSAI_TOKENS_DIR", REPO_ROOT / "tokens")).resolve(),
        drop_zone=Path(env.get("HOKUSAI_DROP_ZONE", home / "drop-zone")).resolve(),
        mlflow_tracking_uri=tracking_uri,
        mlflow_artifact_root=artifact_root,
        mlflow_experiment_name=env.get("MLFLOW_EXPERIMENT_NAME") or None,
        chain_id=_int(env, "HOKUSAI_CHAIN_ID", 31337),
        verifying_contract=env.get("HOKUSAI_VERIFYING_CONTRACT", "0x" + "0" * 39 + "1"),
        deadline_seconds=_int(env, "HOKUSAI_MINT_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
        max_cost_usd_micro=_int(env, "HOKUSAI_MAX_COST_USD_MICRO", 0),
        max_upload_bytes=_int(env, "HOKUSAI_MAX_UPLOAD_BYTES", LoadLimits.max_bytes),
        max_rows=_int(env, "HOKUSAI_MAX_ROWS", LoadLimits.max_rows),
        max_columns=_int(env, "HOKUSAI_MAX_COLUMNS", LoadLimits.max_columns),
        max_benchmark_share=float(env.get("HOKUSAI_MAX_BENCHMARK_SHARE") or 0.01),
        test_mode=env.get("HOKUSAI_TEST_MODE", "").strip().lower() in TRUE_WORDS,
        log_level=(env.get("PIPELINE_LOG_LEVEL") or "").upper() or None,
        random_seed=_int(env, "RANDOM_SEED", 42),
        s3_bucket=(env.get("HOKUSAI_S3_BUCKET") or "").strip() or None,
        s3_prefix=(env.get("HOKUSAI_S3_PREFIX") or "").strip().strip("/"),
        s3_endpoint_url=(env.get("HOKUSAI_S3_ENDPOINT_URL") or "").strip() or None,
        s3_region=(env.get("HOKUSAI_S3_REGION") or "").strip() or None,
        s3_path_style=_bool(env, "HOKUSAI_S3_PATH_STYLE", True),
        io_bucket=(env.get("HOKUSAI_IO_BUCKET") or "").strip() or None,
        io_prefix=(env.get("HOKUSAI_IO_PREFIX") or "").strip().strip("/") or Settings.io_prefix,
        step_executor=_choice(env, "HOKUSAI_STEP_EXECUTOR", STEP_EXECUTORS, Settings.step_executor),
        sensor_interval_seconds=_int(env, "HOKUSAI_SENSOR_INTERVAL_SECONDS", Settings.sensor_interval_seconds),
        dspy_model=(env.get("HOKUSAI_DSPY_MODEL") or "").strip() or None,
        dspy_api_base=(env.get("HOKUSAI_DSPY_API_BASE") or "").strip() or None,
        dspy_programs_dir=Path(env["HOKUSAI_DSPY_PROGRAMS_DIR"]).resolve() if env.get("HOKUSAI_DSPY_PROGRAMS_DIR")
        else None,
        step_retries=_int(env, "HOKUSAI_STEP_RETRIES", Settings.step_retries),
        step_retry_delay_seconds=_int(env, "HOKUSAI_STEP_RETRY_DELAY_SECONDS", Settings.step_retry_delay_seconds),
        intake_workers=max(_int(env, "HOKUSAI_INTAKE_WORKERS", default_intake_workers()), 0),
        ledger_url=(env.get(LEDGER_URL_VAR) or "").strip() or None,
        relayer_redis_url=(env.get(RELAYER_REDIS_URL_VAR) or "").strip() or None,
        budget_retry_seconds=_int(env, "HOKUSAI_BUDGET_RETRY_SECONDS", 0) or None,
        api_host=(env.get("HOKUSAI_API_HOST") or "127.0.0.1").strip(),
        api_port=_int(env, "HOKUSAI_API_PORT", 8001),
        api_database_url=(env.get(API_DATABASE_URL_VAR) or "").strip() or None,
        api_redis_url=(env.get(API_REDIS_URL_VAR) or "").strip() or None,
        api_mlflow_url=(env.get(API_MLFLOW_URL_VAR) or "").strip() or None,
        rate_limit_requests=_positive(env, "RATE_LIMIT_REQUESTS", 100),
        rate_limit_period=_positive(env, "RATE_LIMIT_PERIOD", 60),
        rate_limit_mlflow_requests=_positive(env, "RATE_LIMIT_MLFLOW_REQUESTS", 2000),
        api_key_cache_seconds=_float(env, "HOKUSAI_API_KEY_CACHE_SECONDS", 2.0, allow_zero=True),
        siwe_domain=(env.get("HOKUSAI_SIWE_DOMAIN") or "127.0.0.1:8001").strip(),
        siwe_uri=(env.get("HOKUSAI_SIWE_URI") or "http://127.0.0.1:8001").strip(),
        siwe_session_seconds=_positive(env, "HOKUSAI_SIWE_SESSION_SECONDS", 900),
        api_cors_origins=_origins(env, "HOKUSAI_API_CORS_ORIGINS"),
        dagster_instance_home=Path(env["DAGSTER_HOME"]).resolve() if (env.get("DAGSTER_HOME") or "").strip()
        else None,
        chain_rpc_url=(env.get(CHAIN_RPC_URL_VAR) or "").strip() or None,
        chain_rpc_timeout_seconds=_float(env, "HOKUSAI_CHAIN_RPC_TIMEOUT_SECONDS", 10.0),
        secret_variables=secret_variables(env),
    )


def read_secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of secret variable ``name`` (empty counts as unset); callers never log it."""
    env = os.environ if env is None else env
    value = (env.get(name) or "").strip()
    return value or None


def secret_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The secret variables that are set, by name: for code outside Dagster (the CLI's
    ``reproduce``) that needs a secret's value; Dagster resources get ``EnvVar`` instead."""
    env = os.environ if env is None else env
    return {name: env[name] for name in secret_variables(env)}


def secret_variables(env: Mapping[str, str]) -> frozenset[str]:
    """Which secret-bearing variables are set; an empty one counts as unset, as the loaders treat it."""
    names = {name for name in (ATTESTER_KEY_VAR, PII_SECRET_VAR, CHAIN_RPC_URL_VAR, API_KEY_PEPPER_VAR)
             if (env.get(name) or "").strip()}
    names |= {name for name in URL_VARIABLES if uri_has_password((env.get(name) or "").strip())}
    return frozenset(names)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or "").strip().lower() or default
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS | FALSE_WORDS:
        return raw in TRUE_WORDS
    raise ValueError(f"{name} must be true or false, got {env[name]!r}")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Exact browser origins (``https://app.example``, ``http://127.0.0.1:3000``), comma-separated.

    A wildcard is refused: the API authenticates with bearer tokens a page's script sends,
    so any origin allowed may act with a user's key; each must be named."""
    from urllib.parse import urlsplit

    origins = []
    for raw in (env.get(name) or "").split(","):
        origin = raw.strip()
        if not origin:
            continue
        if "*" in origin:
            raise ValueError(f"{name}: wildcards are not allowed ({origin!r}); list each origin exactly")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query \
                or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{name}: {origin!r} is not an origin; write scheme://host[:port], "
                             "e.g. https://app.example.com (no path, no trailing slash)")
        origins.append(origin.lower())
    return tuple(dict.fromkeys(origins))


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    """A finite number above 0 (or 0 too, with ``allow_zero``); the default when unset."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not (0 <= value if allow_zero else 0 < value) or value == float("inf"):
        raise ValueError(f"{name} must be {'0 or more' if allow_zero else 'positive'}, got {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
