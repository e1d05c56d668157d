"""The real-service harness: the servers the tests, the benchmarks and ``scripts/services`` run.

SeaweedFS (S3), PostgreSQL 15, Redis and an MLflow server (``servers``, ``mlflow_server``),
a local chain with the real DeltaVerifier (``anvil``, installed by ``scripts/setup``), the whole Dagster deployment on them (``topology``, ``webserver``), and the generated
data the tests and benchmarks share (``pii_corpus``, ``no_information``,
``settlement_fixtures``). Nothing in the platform imports it; it needs the ``test`` extra
(SeaweedFS's ``weed`` binary, faker).
"""
