"""Benchmark: is noise paid? False positives on no-information contributions, power, cost.

Usage: .venv/bin/python bench/eligibility_bench.py [--seeds 20] [--alternatives 5,10] [--repeats 5]
       [--skip-rates] [--skip-cost] [--json out.json]

Setting: the demo token; the champion's training set is its base data (150 rows), the
benchmark its 1,000 rows. Rates: every case of the standard no-information set (60,
``hokusai/harness/no_information.py``) and the real cases, under today's rule
(``hokusai-eligibility-v1``: one fit with the spec's seed, paired bootstrap over rows),
under the new one (``hokusai-eligibility-v2``) and under the variants that justify it,
for each seed count (the first K of the largest, which is what K seeds would be), with
no filter (the statistic alone) and with exact copies of champion rows removed.
Cost: the statistical part of one evaluation of improving.csv (fits, scoring,
bootstrap), median over repeats, in this process (imports done) and in a fresh one.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VARIANTS = {
    # name: (what it requires, shown in the report)
    "v1": "today: one fit (spec seed), DeltaOne >= min, row-bootstrap lower bound > 0",
    "seeds": "K seeds: DeltaOne >= min, seed mean >= min, two-level lower bound > 0",
    "seeds-min": "K seeds: DeltaOne >= min, two-level lower bound >= min",
    "placebo": "K seeds: DeltaOne >= min, seed mean >= min, lower bound over the placebo > 0",
    "v2": "K seeds: DeltaOne >= min, lower bound >= min, lower bound over the placebo > 0",
}


def setting():
    from hokusai.evaluation.metrics import benchmark_rows
    from hokusai.tokens.spec import load_token_spec, read_token_table

    spec = load_token_spec(REPO / "tokens" / "digits-demo.yaml")
    champion = read_token_table(spec.base_data_path)
    rows = benchmark_rows(read_token_table(spec.benchmark_path), spec)
    return spec, champion, rows


def verdicts(spec, baseline, candidate, placebo) -> dict:
    """Every variant's verdict and the figures behind it, for these (already sliced) scores."""
    from hokusai.rules.delta_one import eligibility_verdict, score_bps, seed_robust_verdict
    from hokusai.evaluation.seeded import SeedRobustGain, paired_seeds_bootstrap
    from hokusai.evaluation.significance import paired_bootstrap

    labels, binary = list(spec.label_values), spec.task == "binary_classification"
    compare = dict(metric=spec.primary_metric, labels=labels, positive_label=spec.positive_label, binary=binary,
                   resamples=spec.bootstrap_resamples, seed=spec.seed)
    delta = score_bps(candidate.primary[0]) - score_bps(baseline.primary[0])  # the registered models' DeltaOne
    single = paired_bootstrap(spec.primary_metric, baseline.truth, baseline.predicted[0], candidate.predicted[0],
                              baseline.probabilities[0], candidate.probabilities[0], labels, spec.positive_label,
                              binary, resamples=spec.bootstrap_resamples, seed=spec.seed)
    gain = SeedRobustGain(paired_seeds_bootstrap(baseline=baseline, candidate=candidate, **compare),
                          paired_seeds_bootstrap(baseline=placebo, candidate=candidate, **compare), 0)
    champ, plac, minimum = gain.champion, gain.placebo, spec.min_improvement_bps
    enough = delta >= minimum
    return {
        "delta_one_bps": delta, "v1_ci": [single.ci_low_bps, single.ci_high_bps],
        "seed_mean_bps": champ.delta_bps, "ci": [champ.ci_low_bps, champ.ci_high_bps],
        "seed_sd_bps": round(statistics.stdev(champ.seed_deltas_bps), 1) if len(champ.seeds) > 1 else 0.0,
        "placebo_gain_bps": plac.delta_bps, "placebo_ci": [plac.ci_low_bps, plac.ci_high_bps],
        "eligible": {
            "v1": eligibility_verdict(delta, minimum, single.as_dict(), len(baseline.truth), spec.min_benchmark_samples)[0],
            "seeds": enough and champ.delta_bps >= minimum and champ.ci_low_bps > 0,
            "seeds-min": enough and champ.ci_low_bps >= minimum,
            "placebo": enough and champ.delta_bps >= minimum and plac.ci_low_bps > 0,
            "v2": seed_robust_verdict(delta, minimum, gain.as_dict(), len(baseline.truth), spec.min_benchmark_samples)[0],
        },
    }


def rates(k_max: int, alternatives: list[int]) -> dict:
    """Fit everything once with k_max seeds; judge every case for each K and both filters."""
    from hokusai.evaluation.seeded import eligibility_seeds, placebo_scores, seeded_benchmark_scores
    from hokusai.models.training import merge_training_data
    from hokusai.harness.no_information import no_information_cases, real_cases, without_champion_copies

    spec, champion, rows = setting()
    seeds = eligibility_seeds(spec, k_max)
    started = time.perf_counter()
    baseline = seeded_benchmark_scores(champion, rows, spec, seeds)
    placebos = {}

    def placebo(size):
        if size not in placebos:
            placebos[size] = placebo_scores(champion, size, rows, spec, seeds)
        return placebos[size]

    cases = no_information_cases(champion, spec) + real_cases()
    ks = sorted(set(alternatives) | {k_max})
    results = []
    for case in cases:
        scored = {}
        for filtered in (False, True):
            contribution = without_champion_copies(case.rows, champion, spec) if filtered else case.rows
            if filtered and len(contribution) == 0:
                scored[filtered] = None  # every row is a copy: the upload is rejected, nothing to judge
                continue
            if filtered and len(contribution) == len(case.rows):
                scored[filtered] = scored[False]
                continue
            candidate = seeded_benchmark_scores(merge_training_data(champion, contribution, spec), rows, spec, seeds)
            scored[filtered] = (candidate, placebo(len(contribution)), len(contribution))
        entry = {"name": case.name, "kind": case.kind, "informative": case.informative, "rows": len(case.rows)}
        for filtered, label in ((False, "alone"), (True, "exact_copies_removed")):
            if scored[filtered] is None:
                entry[label] = {"rows": 0, "rejected": "no new rows"}
                continue
            candidate, placebo_of_size, size = scored[filtered]
            entry[label] = {"rows": size}
            for k in ks:
                subset = seeds[:k]
                entry[label][f"K={k}"] = verdicts(spec, baseline.for_seeds(subset), candidate.for_seeds(subset),
                                                  placebo_of_size.for_seeds(subset))
        results.append(entry)
        print(f"{case.name:28s} {time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
    free_gain = {}  # what copies of the champion's rows alone add, averaged over the seeds
    for size, scores in sorted(placebos.items()):
        gains = [(after - before) * 10000 for before, after in zip(baseline.primary, scores.primary)]
        free_gain[size] = {"seed_mean_bps": round(statistics.mean(gains), 1), "seed_sd_bps": round(statistics.stdev(gains), 1)}
    return {"seeds": list(seeds), "ks": ks, "cases": results, "placebo_gain_over_champion": free_gain,
            "fit_seconds": round(time.perf_counter() - started, 1)}


def summarize(measured: dict) -> str:
    """Markdown: counts per variant, K and filter; the real cases; the margins."""
    lines = []
    for label, title in (("alone", "statistic alone (no filter)"), ("exact_copies_removed", "exact copies removed")):
        lines += [f"\n{title}: eligible / cases", "",
                  "| K | set | " + " | ".join(VARIANTS) + " |", "|---|---|" + "---:|" * len(VARIANTS)]
        for k in measured["ks"]:
            for group, pick in (("no-information", lambda c: not c["informative"] and c["kind"] != "label-noise"),
                                ("label-noise", lambda c: c["kind"] == "label-noise"),
                                ("real", lambda c: c["informative"])):
                chosen = [c for c in measured["cases"] if pick(c)]
                judged = [c[label][f"K={k}"] for c in chosen if f"K={k}" in c[label]]
                counts = [sum(j["eligible"][v] for j in judged) for v in VARIANTS]
                lines.append(f"| {k} | {group} | " + " | ".join(f"{n} / {len(chosen)}" for n in counts) + " |")
    k = max(measured["ks"])
    lines += [f"\nreal cases, K={k}, statistic alone (bps; intervals 95%)", "",
              "| case | rows | DeltaOne (v1 interval) | seed mean [interval] | seed SD | over placebo [interval] | v1 | v2 |",
              "|---|---:|---:|---:|---:|---:|---|---|"]
    for case in measured["cases"]:
        if case["informative"] or case["kind"] == "label-noise":
            j = case["alone"][f"K={k}"]
            lines.append(
                f"| {case['name']} | {case['rows']} | {j['delta_one_bps']:+d} [{j['v1_ci'][0]:.0f}, {j['v1_ci'][1]:.0f}] "
                f"| {j['seed_mean_bps']:+.0f} [{j['ci'][0]:.0f}, {j['ci'][1]:.0f}] | {j['seed_sd_bps']:.0f} "
                f"| {j['placebo_gain_bps']:+.0f} [{j['placebo_ci'][0]:.0f}, {j['placebo_ci'][1]:.0f}] "
                f"| {'eligible' if j['eligible']['v1'] else '-'} | {'eligible' if j['eligible']['v2'] else '-'} |")
    lines += ["\nmargins, statistic alone (bps): the highest lower bounds among no-information cases", ""]
    for k in measured["ks"]:
        noinfo = [c["alone"][f"K={k}"] for c in measured["cases"] if not c["informative"] and c["kind"] != "label-noise"]
        gains = [j["seed_mean_bps"] for j in noinfo]
        # a reordering of the champion's rows is the placebo of its size itself: its gain over it is exactly 0
        not_placebo = [c["alone"][f"K={k}"] for c in measured["cases"] if c["kind"] in ("jitter", "resample",
                                                                                         "jittered-resample")]
        lines.append(f"- K={k}: over champion max {max(j['ci'][0] for j in noinfo):.0f} (v2 needs >= min), "
                     f"over placebo max {max(j['placebo_ci'][0] for j in not_placebo):.0f} without the "
                     f"reorderings (v2 needs > 0); seed-mean gain of no-information cases "
                     f"{statistics.mean(gains):+.0f} on average, max {max(gains):+.0f}")
    lines += [f"\nthe placebo's own gain over the champion (copies of its rows; K={k}, seed mean, seed SD), bps", "",
              "| rows copied | " + " | ".join(str(size) for size in measured["placebo_gain_over_champion"]) + " |",
              "|---|" + "---:|" * len(measured["placebo_gain_over_champion"]),
              "| gain | " + " | ".join(f"{g['seed_mean_bps']:+.0f} (SD {g['seed_sd_bps']:.0f})"
                                     for g in measured["placebo_gain_over_champion"].values()) + " |"]
    lines += ["\nthe same figures judged for a token whose minimum is 50 bps (statistic alone): eligible / cases", "",
              "| K | set | v1 | seeds-min | v2 |", "|---|---|---:|---:|---:|"]
    for k in measured["ks"]:
        for group, pick in (("no-information", lambda c: not c["informative"] and c["kind"] != "label-noise"),
                            ("real", lambda c: c["informative"])):
            judged = [c["alone"][f"K={k}"] for c in measured["cases"] if pick(c)]
            v1 = sum(j["delta_one_bps"] >= 50 and j["v1_ci"][0] > 0 for j in judged)
            seeds_min = sum(j["delta_one_bps"] >= 50 and j["ci"][0] >= 50 for j in judged)
            v2 = sum(j["delta_one_bps"] >= 50 and j["ci"][0] >= 50 and j["placebo_ci"][0] > 0 for j in judged)
            lines.append(f"| {k} | {group} | {v1} / {len(judged)} | {seeds_min} / {len(judged)} | {v2} / {len(judged)} |")
    return "\n".join(lines)


def evaluation_once(spec, champion, rows, contribution, rule: str, k: int, cache: dict | None):
    """The statistical part of one evaluation; ``cache``: what is kept per champion between evaluations."""
    from hokusai.evaluation.metrics import bootstrap_primary_metric, evaluate_model
    from hokusai.evaluation.seeded import (eligibility_seeds, placebo_scores, seeded_benchmark_scores,
                                             seeded_significance)
    from hokusai.models.training import merge_training_data, train_model

    training = merge_training_data(champion, contribution, spec)
    if rule == "v1":
        model = cache["model"] if cache is not None else train_model(champion, spec)
        baseline = evaluate_model(model, rows, spec)
        return bootstrap_primary_metric(baseline, evaluate_model(train_model(training, spec), rows, spec), spec)
    seeds = eligibility_seeds(spec, k)
    baseline = placebo = None
    if cache is not None:
        if ("baseline", k) not in cache:
            cache["baseline", k] = seeded_benchmark_scores(champion, rows, spec, seeds)
        baseline = cache["baseline", k]
        if cache.get("placebo_cached"):
            if ("placebo", k) not in cache:
                cache["placebo", k] = placebo_scores(champion, len(contribution), rows, spec, seeds)
            placebo = cache["placebo", k]
    return seeded_significance(champion, training, rows, spec, seeds, baseline=baseline, placebo=placebo)


def cost(ks: list[int], repeats: int) -> dict:
    """Median seconds of one evaluation of improving.csv, per rule and cache state."""
    import pandas as pd

    from hokusai.models.training import train_model

    spec, champion, rows = setting()
    contribution = pd.read_csv(REPO / "tokens/digits-demo/samples/improving.csv")
    evaluation_once(spec, champion, rows, contribution, "v1", 1, None)  # warms imports and caches of the libraries
    out = {}

    def timed(name, rule, k, make_cache):
        times, cpu = [], []
        for _ in range(repeats):
            cache = make_cache()
            if cache is not None:  # the per-champion work is done before the clock starts
                evaluation_once(spec, champion, rows, contribution, rule, k, cache)
            start, start_cpu = time.perf_counter(), time.process_time()
            evaluation_once(spec, champion, rows, contribution, rule, k, cache)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        out[name] = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
                     "cpu_median_s": round(statistics.median(cpu), 3)}
        print(name, out[name], file=sys.stderr, flush=True)

    timed("v1 cold (champion fitted too)", "v1", 1, lambda: None)
    timed("v1 warm (champion model in memory, today's pipeline)", "v1", 1, lambda: {"model": train_model(champion, spec)})
    for k in ks:
        timed(f"v2 K={k} cold (champion, placebo, candidate: 3K fits)", "v2", k, lambda: None)
        timed(f"v2 K={k} warm (champion's seeded scores cached: 2K fits)", "v2", k, lambda: {})
        timed(f"v2 K={k} warm, placebo of this size cached too (K fits)", "v2", k, lambda: {"placebo_cached": True})
    return out


PROCESS_SNIPPET = """
import sys, time; start = time.perf_counter()
sys.path.insert(0, {repo!r}); sys.argv = ['x']
import pandas as pd
from bench.eligibility_bench import evaluation_once, setting
spec, champion, rows = setting()
contribution = pd.read_csv({repo!r} + '/tokens/digits-demo/samples/improving.csv')
evaluation_once(spec, champion, rows, contribution, {rule!r}, {k}, None)
print(time.perf_counter() - start)
"""


def process_cost(ks: list[int], repeats: int) -> dict:
    """A fresh process: imports, data, one cold evaluation (what a first run on a worker pays)."""
    out = {}
    for rule, k in [("v1", 1)] + [("v2", k) for k in ks]:
        times, cpu = [], []
        for _ in range(repeats):
            start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-c", PROCESS_SNIPPET.format(repo=str(REPO), rule=rule, k=k)],
                           check=True, capture_output=True, cwd=REPO)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(time.perf_counter() - start)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        name = f"{rule} fresh process" + (f" K={k}" if rule == "v2" else "")
        out[name] = {"median_s": round(statistics.median(times), 3), "runs_s": [round(t, 3) for t in times],
                     "cpu_median_s": round(statistics.median(cpu), 3)}
        print(name, out[name], file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20, help="the largest seed count measured")
    parser.add_argument("--alternatives", default="5,10", help="smaller seed counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-rates", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    alternatives = [int(k) for k in args.alternatives.split(",") if k]
    report = {}
    if not args.skip_rates:
        report["rates"] = rates(args.seeds, alternatives)
        print(summarize(report["rates"]))
    if not args.skip_cost:
        ks = sorted(set(alternatives) | {args.seeds})
        report["cost"] = cost(ks, args.repeats) | process_cost(ks, max(1, args.repeats // 2))
        print("\n| one evaluation, statistical part | median | CPU median | runs (s) |\n|---|---:|---:|---|")
        for name, figure in report["cost"].items():
            print(f"| {name} | {figure['median_s']:.2f} s | {figure['cpu_median_s']:.2f} s "
                  f"| {', '.join(f'{t:.2f}' for t in figure['runs_s'])} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
