"""Re-running an evaluation from its attestation's pins, to show the claim is reproducible.

Everything that decides the result is pinned in the attestation: the upload's
SHA-256, the token spec's hash, the benchmark and training data hashes, the
baseline version and its weights commitment, the seed, the package versions. This
re-reads each input, checks it against its pin, retrains and re-scores without
logging anything, and compares the recomputed claim hash with the attested one.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hokusai.claims.documents import delta_one_document, output_dir_for
from hokusai.rules.attestation import attestation_document, attestation_hash
from hokusai.rules.weights import weights_commitment
from hokusai.drops.store import ContributionStore
from hokusai.core.client import RegistryClient, sklearn_pip_requirements
from hokusai.intake.read import IntakePolicy, clean, frame_sha256, read_contribution
from hokusai.chain.ledger import Chain
from hokusai.chain.training_set import training_set
from hokusai.models.steps import (
    CandidateModel,
    ContributionSummary,
    measure_on_benchmark,
    pinned_baseline,
    training_digest,
)
from hokusai.tokens.spec import TokenSpec
from hokusai.models.training import merge_training_data, train_model
from hokusai.claims.verify import Check


def local_commitment(model: Any) -> str:
    """The weights commitment of ``model`` saved exactly as the registry logs it."""
    import mlflow.sklearn

    with tempfile.TemporaryDirectory(prefix="hokusai-reproduce-") as scratch:
        path = Path(scratch) / "model"
        if getattr(model, "hokusai_flavor", None) == "dspy":  # a DSPy program: its JSON state and source
            from hokusai.dspy.mlflow_model import save_dspy_model

            save_dspy_model(model, path)
            return weights_commitment(path)
        mlflow.sklearn.save_model(model, path, serialization_format="pickle",
                                  pip_requirements=sklearn_pip_requirements())
        return weights_commitment(path)


def reproduce(partition_key: str, *, outputs_root: Path, chain: Chain, store: ContributionStore,
              registry: RegistryClient,
              spec_for: Callable[[str], TokenSpec], pii_key_for: Callable[[str], bytes],
              base_for: Callable[[TokenSpec], Any], benchmark_for: Callable[[TokenSpec], Any],
              policy: IntakePolicy = IntakePolicy()) -> list[Check]:
    """Every pin checked, then the recomputed claim hash compared; all must pass."""
    envelope = json.loads((output_dir_for(outputs_root, partition_key) / "attestation.json").read_text())
    pinned = envelope["attestation"]
    spec = spec_for(pinned["token"]["token_id"])
    checks = [_same("token_spec_sha256", spec.spec_sha256, pinned["token"]["spec_sha256"])]
    contributed = read_contribution(store, partition_key, spec_for, pii_key_for, policy)
    checks.append(_same("contribution_sha256", contributed.manifest["sha256"], pinned["contribution"]["sha256"]))
    base, benchmark = base_for(spec), benchmark_for(spec)
    checks.append(_same("benchmark_sha256", frame_sha256(benchmark), pinned["data"]["benchmark_sha256"]))
    baseline = pinned["baseline_model"]
    pin = pinned_baseline(chain, spec, baseline["weights_commitment"])
    if pin is None:
        return checks + [Check("baseline_in_chain", False, f"the baseline {baseline['weights_commitment']} is no "
                                                            "longer in the token's chain (rolled back)")]
    checks.append(_same("training_lineage", pin.lineage_pins(), pinned["data"]["training_lineage"]))
    champion_rows = training_set(list(pin.lineage), base, spec)  # every part checked against its root
    cleaned = clean(contributed, spec, benchmark, policy, training=champion_rows)
    checks.append(_same("clean_rows_root", cleaned.rows_root, pinned["contribution"]["clean_rows_root"]))
    training = merge_training_data(champion_rows, cleaned.frame, spec)
    checks.append(_same("training_sha256", training_digest(training, spec), pinned["data"]["training_sha256"]))
    model = train_model(training, spec)
    commitment = local_commitment(model)
    checks.append(_same("candidate_commitment", commitment, pinned["candidate_model"]["weights_commitment"]))
    summary = ContributionSummary(partition_key, cleaned.token_id, cleaned.wallet_address, cleaned.raw_sha256,
                                  cleaned.rows_sha256, len(cleaned.frame), cleaned.stats, cleaned.rows_root)
    candidate = CandidateModel(model, "", "", commitment, len(training), training_digest(training, spec), summary)
    result = measure_on_benchmark(registry, pin, candidate, benchmark, spec, champion_rows, cleaned.frame)
    recomputed = attestation_document(spec, delta_one_document(spec, result))
    checks.append(_same("software_versions", recomputed["software"], pinned["software"]))
    checks.append(_same("attestation_hash", attestation_hash(recomputed), envelope["attestation_hash"]))
    return checks


def _same(name: str, recomputed: Any, pinned: Any) -> Check:
    detail = "identical" if recomputed == pinned else f"recomputed {recomputed}, pinned {pinned}"
    return Check(name, recomputed == pinned, detail)


