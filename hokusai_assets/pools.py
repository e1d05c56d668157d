"""The concurrency pool of the steps that write a token's aliases in the model registry.

MLflow has no atomic "create if absent" or "compare and swap" for an alias. Two runs
of one token side by side (a backfill; its runs carry no per-token tag for the run
queue's limit) could each find no champion and crown two baselines, or each read the
same champion and overwrite the other's move. The instance gives every pool one
slot (``concurrency.pools.default_limit: 1`` in both dagster.yaml files), so the
steps in this pool run one at a time across all runs. They are short (reading and
setting aliases, training a baseline once per token); the heavy steps run in parallel.
"""

REGISTRY_POOL = "hokusai-registry"
