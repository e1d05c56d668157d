"""The rules the SDK and the platform share, in their one home: identifiers, wallets, URI
redaction, metric names, DeltaOne and eligibility, canonical JSON, the weights commitment,
the attestation, the version.

Plain functions with no MLflow and no import of ``hokusai.core``: the platform imports them
without loading the SDK's registry, and a third party's ``PerformanceTracker`` computes the
same documents as the pipeline. This ``__init__`` imports nothing.
"""
