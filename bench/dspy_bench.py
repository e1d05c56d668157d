"""DSPy token figures: the prototype's dev-score figures measured here, compile / evaluate
time, the seed-robust step, and ``execute_batch`` throughput with the local LM.

Run: ``PYTHONPATH=. .venv/bin/python bench/dspy_bench.py [--cli]`` (``--cli``: also time a cold
``hokusai evaluate --dry-run --token topics-dspy-demo``). Prints one JSON document.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd

from hokusai.settings import REPO_ROOT

TOKEN = "topics-dspy-demo"


def timed(function, repeats=3):
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        value = function()
        runs.append(time.perf_counter() - started)
    return value, round(statistics.median(runs), 3), [round(r, 3) for r in runs]


def main() -> dict:
    from hokusai.dspy import DSPyModelLoader, DSPyPipelineExecutor, import_dspy
    from hokusai.dspy import token_model
    from hokusai.dspy.loader import LoadedProgram
    from hokusai.evaluation.metrics import benchmark_rows, bootstrap_primary_metric, evaluate_model
    from hokusai.evaluation.seeded import seeded_significance
    from hokusai.tokens.spec import load_token_spec, read_token_table
    from hokusai.models.training import merge_training_data, train_model

    dspy = import_dspy()
    spec = load_token_spec(REPO_ROOT / "tokens" / f"{TOKEN}.yaml")
    base = read_token_table(spec.base_data_path)
    dev = benchmark_rows(read_token_table(spec.benchmark_path), spec)
    samples = spec.base_data_path.parent / "samples"
    improving = pd.read_csv(samples / "improving.csv")
    mislabelled = pd.read_json(samples / "mislabelled.jsonl", lines=True)
    out: dict = {"load_average": os.getloadavg()[0]}

    champion = train_model(base, spec)
    baseline = evaluate_model(champion, dev, spec)
    figures = {"base": {"examples": len(base), "accuracy": baseline["metrics"]["accuracy"]}}

    def against_base(name, model, examples):
        new = evaluate_model(model, dev, spec)
        boot = bootstrap_primary_metric(baseline, new, spec)
        figures[name] = {"examples": examples, "accuracy": new["metrics"]["accuracy"],
                         "delta_bps": round((new["metrics"]["accuracy"] - baseline["metrics"]["accuracy"]) * 10000),
                         "ci_bps": [boot["ci_low_bps"], boot["ci_high_bps"]]}

    for name, extra in (("improving", improving), ("duplicates_of_base", base.copy()), ("mislabelled", mislabelled)):
        training = merge_training_data(base, extra, spec)  # no quality gate: what the program alone does
        against_base(name, train_model(training, spec), len(training))
    # the k trap: LabeledFewShot's default k=16 samples 16 of the 48 examples (the platform refuses k < examples)
    training = merge_training_data(base, improving, spec)
    trainset = token_model.examples_from(training, ["text"], "topic", spec.seed)
    model = token_model.DSPyTokenModel(None, spec.dspy, ["text"], "topic", spec.label_values)
    with dspy.context(lm=model.lm()):
        model.program = dspy.LabeledFewShot(k=16).compile(dspy.Predict("text -> topic"), trainset=trainset)
    against_base("improving_at_k16", model, len(training))
    out["dev_figures"] = figures

    _, out["compile_base_s"], _ = timed(lambda: train_model(base, spec))
    _, out["compile_base_plus_improving_s"], _ = timed(lambda: train_model(training, spec))
    candidate = train_model(training, spec)

    def cold_evaluate():
        token_model._ANSWERS.clear()
        candidate._last = None
        return evaluate_model(candidate, dev, spec)

    _, out["evaluate_100_dev_cold_s"], out["evaluate_runs_s"] = timed(cold_evaluate)
    _, out["evaluate_100_dev_warm_s"], _ = timed(lambda: (setattr(candidate, "_last", None),
                                                          evaluate_model(candidate, dev, spec)))

    def seeded():
        token_model._ANSWERS.clear()
        return seeded_significance(base, training, dev, spec)

    gain, out["seed_robust_step_cold_s"], _ = timed(seeded, repeats=1)
    out["seed_robust"] = {"delta_bps": gain.champion.delta_bps, "ci_bps": [gain.champion.ci_low_bps,
                          gain.champion.ci_high_bps], "over_placebo_ci_low_bps": gain.placebo.ci_low_bps,
                          "seeds": list(gain.champion.seeds)}

    loader = DSPyModelLoader()
    loader.models["topics"] = LoadedProgram("topics", candidate.program, {"type": "token"})
    inputs = [{"text": text} for text in dev["text"]]
    for workers in (1, 4):
        executor = DSPyPipelineExecutor(loader, max_workers=workers)
        batch, median, runs = timed(lambda: executor.execute_batch(model_id="topics", inputs_list=inputs))
        assert batch["succeeded"] == len(inputs)
        out[f"execute_batch_100_workers_{workers}"] = {"median_s": median, "items_per_s": round(len(inputs) / median, 1),
                                                       "runs_s": runs, "usage": batch["usage"]}
        executor.close()
    if "--cli" in sys.argv:
        with tempfile.TemporaryDirectory() as home:
            env = {k: v for k, v in os.environ.items() if not k.startswith("HOKUSAI_")} | {"HOKUSAI_HOME": home}
            started = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "hokusai_assets.cli", "evaluate", "--dry-run", "--token",
                                     TOKEN, "--json"], env=env, capture_output=True, text=True, timeout=900)
            out["cli_dry_run_cold_s"] = round(time.perf_counter() - started, 2)
            out["cli_dry_run"] = {k: v for k, v in json.loads(result.stdout).items()
                                  if k in ("status", "delta_one_bps", "eligible", "reason")}
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
