"""The DSPy demo token's data: a four-topic text classification, generated from fixed word lists.

Each topic (sports, business, science, politics) has six subtopics, each with its own
words; a text is four subtopic words, sometimes a topic word, and three words shared
by every topic, in a seeded order. The base examples cover two subtopics per topic, so
a question from another subtopic finds no demonstration that shares its words and the
nearest-demo LM guesses; the improving sample covers the other subtopics, the
mislabelled one covers them with wrong labels. The benchmark (dev set) has 100 texts
over all subtopics. Nothing is downloaded.

Run ``python -m hokusai.tokens.dspy_demo_data`` to rebuild; the output is byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

TOKEN_ID = "topics-dspy-demo"
SEED = 20261201
TOPICS = {
    "sports": {
        "football": "striker goal penalty keeper offside midfield derby pitch",
        "tennis": "serve volley racket baseline deuce backhand wimbledon ace",
        "basketball": "dunk rebound hoop dribble playoffs courtside jumpshot layup",
        "cycling": "peloton sprint stage climb jersey breakaway pedal crash",
        "swimming": "freestyle lap pool butterfly relay stroke lane diving",
        "golf": "putt birdie fairway bunker caddie green par tee",
    },
    "business": {
        "markets": "stocks shares index traders rally selloff nasdaq bonds",
        "banking": "lender deposits mortgage loans interest bank credit savings",
        "retail": "shoppers stores discount sales checkout brands mall inventory",
        "startups": "founders funding venture seed valuation pitchdeck incubator unicorn",
        "energy": "oil barrels refinery opec pipeline drilling crude gasoline",
        "earnings": "quarterly profit revenue forecast margins dividend guidance results",
    },
    "science": {
        "space": "telescope orbit galaxy rocket astronauts nasa planet comet",
        "biology": "cells gene protein dna enzyme bacteria species evolution",
        "physics": "quantum particle collider photon neutrino laser magnet entropy",
        "climate": "glacier emissions warming carbon ice sealevel drought atmosphere",
        "medicine": "vaccine trial patients dose clinical therapy disease antibody",
        "chemistry": "molecule reaction catalyst compound acid polymer solvent atoms",
    },
    "politics": {
        "elections": "ballot voters polling campaign candidate turnout primary recount",
        "parliament": "lawmakers bill vote senate chamber amendment committee debate",
        "diplomacy": "ambassador summit treaty talks sanctions embassy envoy accord",
        "courts": "supreme judge ruling appeal verdict justices lawsuit constitution",
        "government": "minister cabinet budget policy reform agency spending decree",
        "protests": "rally marchers activists banners strike demonstrators police crowd",
    },
}
TOPIC_WORDS = {"sports": "team season", "business": "company market", "science": "researchers study",
               "politics": "government officials"}
SHARED = "today new report after week says early major latest local first big".split()
BASE_SUBTOPICS = 2  # per topic, in the base set


def _text(rng: np.random.Generator, topic: str, subtopic: str) -> str:
    words = list(rng.choice(TOPICS[topic][subtopic].split(), size=4, replace=False))
    if rng.random() < 0.3:
        words.append(str(rng.choice(TOPIC_WORDS[topic].split())))
    words += list(rng.choice(SHARED, size=3, replace=False))
    return " ".join(rng.permutation(words))


def _rows(rng: np.random.Generator, subtopics: list[tuple[str, str]], per_subtopic: int) -> list[dict]:
    return [{"text": _text(rng, topic, sub), "topic": topic} for topic, sub in subtopics for _ in range(per_subtopic)]


def build(out_dir: Path) -> dict[str, int]:
    """Write base.csv, benchmark.csv and samples/ under ``out_dir``; row counts by file."""
    rng = np.random.default_rng(SEED)
    everything = [(topic, sub) for topic, subs in TOPICS.items() for sub in subs]
    base_subtopics = [(t, s) for t, subs in TOPICS.items() for s in list(subs)[:BASE_SUBTOPICS]]
    new_subtopics = [pair for pair in everything if pair not in base_subtopics]
    seen: set[str] = set()

    def unique(rows: list[dict]) -> list[dict]:
        kept = []
        for row in rows:
            if row["text"] not in seen:
                seen.add(row["text"])
                kept.append(row)
        return kept

    pool = unique(_rows(rng, everything, 5))
    benchmark = [pool[i] for i in rng.permutation(len(pool))[:100]]
    base = unique(_rows(rng, base_subtopics, 2))
    improving = unique(_rows(rng, new_subtopics, 2))
    topics = list(TOPICS)
    mislabelled = [{"text": row["text"], "topic": topics[(topics.index(row["topic"]) + 1) % 4]}
                   for row in unique(_rows(rng, new_subtopics, 2))]
    improving[0]["text"] += " contact jane.doe@example.com"  # personal data: scrubbed by the quality gate
    out_dir = Path(out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(base).to_csv(out_dir / "base.csv", index=False, lineterminator="\n")
    pd.DataFrame(benchmark).to_csv(out_dir / "benchmark.csv", index=False, lineterminator="\n")
    pd.DataFrame(improving).to_csv(out_dir / "samples" / "improving.csv", index=False, lineterminator="\n")
    with open(out_dir / "samples" / "mislabelled.jsonl", "w") as handle:
        for row in mislabelled:
            handle.write(json.dumps(row) + "\n")
    return {"base": len(base), "benchmark": len(benchmark), "improving": len(improving),
            "mislabelled": len(mislabelled)}


if __name__ == "__main__":
    from hokusai.settings import REPO_ROOT

    print(build(REPO_ROOT / "tokens" / TOKEN_ID))
