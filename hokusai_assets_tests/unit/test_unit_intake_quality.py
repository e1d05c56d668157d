"""``hokusai.intake.read``: the quality score's null count may come from the load manifest, only when it fits."""

from __future__ import annotations

import pandas as pd

from hokusai.intake.read import ContributedDataset, _loaded_nulls, contribution_quality
from hokusai.intake.loading import load_contribution
from hokusai.pii.scrub import scrub_frame
from hokusai.tokens.spec import FeatureSpec
from hokusai.intake.validation import validate_contribution
from hokusai_assets_tests.spec_factory import binary_spec

SPEC = binary_spec(FeatureSpec("a", "float"), FeatureSpec("email", "string"), FeatureSpec("note", "string"))
RAW = b"a,email,note,y\n1.5,a@b.com,,0\n,,call 555-123-4567,1\n2,  ,fine,0\n"


def contributed() -> ContributedDataset:
    loaded = load_contribution(RAW, "f.csv", "uri", "etag")
    scrubbed = scrub_frame(loaded.frame, b"k" * 32, protected_columns={"a", "y"})
    return ContributedDataset("p", "t", "0x" + "ab" * 20, "f.csv", scrubbed.frame, loaded.manifest)


def test_manifest_nulls_are_the_scrubbed_frames_nulls():
    dataset = contributed()
    nulls = _loaded_nulls(dataset)
    assert nulls == {c: int(dataset.frame[c].isna().sum()) for c in dataset.frame.columns} == {
        "a": 1, "email": 1, "note": 1, "y": 0}
    report = validate_contribution(dataset.frame, SPEC)
    stats = {"rows_in": 3, "duplicates_removed": 0, "benchmark_rows_removed": 0}
    assert contribution_quality(dataset.frame, report, SPEC, stats, nulls) == contribution_quality(
        dataset.frame, report, SPEC, stats)


def test_a_manifest_of_another_frame_is_not_used():
    dataset = contributed()
    dataset.frame = pd.concat([dataset.frame, dataset.frame], ignore_index=True)
    assert _loaded_nulls(dataset) == {}
    dataset = contributed()
    dataset.frame = dataset.frame.rename(columns={"note": "comment"})
    assert _loaded_nulls(dataset) == {}
