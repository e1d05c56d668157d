"""A keyed (``update``) token's chain: a row names the row it replaces by its key, the key is part of
the commitment, and the champion's training set is rebuilt by replaying each link's replacements."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from hokusai.chain.ledger import ChainLink
from hokusai.chain.training_set import TrainingSetMismatch, base_rows_root, training_set
from hokusai.commitments.rows import commit_rows, read_rows_file
from hokusai.intake.cleaning import clean_contribution
from hokusai.intake.read import committed_rows
from hokusai.intake.validation import validate_contribution
from hokusai_assets_tests.unit.test_unit_training import SPEC

KEYED = dataclasses.replace(SPEC, token_id="keyed-token", key_column="id", merge_strategy="update")
BASE = pd.DataFrame({"a": [10, 20, 30], "b": [0.1, 0.2, 0.3], "y": [0, 1, 2], "id": ["007", "8", "9"]})
NO_BENCHMARK = pd.DataFrame({"a": [999], "b": [9.9], "y": [0]})


def link(position: int, frame: pd.DataFrame, folder, spec=KEYED) -> ChainLink:
    if position == 0:
        return ChainLink(token_id=spec.token_id, position=0, state="settled", commitment="0x" + "0" * 64,
                         rows_root=base_rows_root(frame, spec), rows_count=len(frame), model_uri="m")
    path = folder / f"rows-{position}.csv"
    root = commit_rows(committed_rows(frame, spec), path)
    return ChainLink(token_id=spec.token_id, position=position, state="settled", commitment=f"0x{position:064x}",
                     rows_root=root, rows_count=len(frame), model_uri="m", rows_path=str(path))


def cleaned(frame: pd.DataFrame, spec=KEYED) -> pd.DataFrame:
    report = validate_contribution(frame, spec)
    assert report.passed, report.summary()
    return clean_contribution(report.frame, spec, NO_BENCHMARK).frame


def test_the_key_is_committed_only_under_update():
    assert KEYED.committed_columns == ["a", "b", "y", "id"]
    assert dataclasses.replace(SPEC, key_column="id").committed_columns == ["a", "b", "y"]
    assert KEYED.content_columns == SPEC.content_columns == ["a", "b", "y"]


def test_the_training_set_replays_each_links_replacements_in_chain_order(tmp_path):
    first = cleaned(pd.DataFrame({"a": [21, 40], "b": [0.5, 0.4], "y": [1, 0], "id": ["8", "10"]}))
    second = cleaned(pd.DataFrame({"a": [41, 11], "b": [0.6, 0.7], "y": [0, 2], "id": ["10", "007"]}))
    lineage = [link(0, BASE, tmp_path), link(1, first, tmp_path), link(2, second, tmp_path)]
    frame = training_set(lineage, BASE, KEYED)
    by_key = {row.id: (row.a, row.y) for row in frame.itertuples()}
    # "8" was replaced by the first link, "10" added by it and replaced by the second, "007" replaced by the second
    assert by_key == {"9": (30, 2), "8": (21, 1), "10": (41, 0), "007": (11, 2)}
    assert len(frame) == 4 and frame["id"].is_unique
    # keys are text end to end: "007" in the rows file is not the number 7
    assert read_rows_file(tmp_path / "rows-2.csv")[1:] and "007" in set(frame["id"])
    # one link less: the first link's rows as they were
    assert {row.id: row.a for row in training_set(lineage[:2], BASE, KEYED).itertuples()} == {
        "007": 10, "9": 30, "8": 21, "10": 40}


def test_a_rows_file_whose_key_was_changed_is_caught(tmp_path):
    first = cleaned(pd.DataFrame({"a": [21], "b": [0.5], "y": [1], "id": ["8"]}))
    lineage = [link(0, BASE, tmp_path), link(1, first, tmp_path)]
    path = tmp_path / "rows-1.csv"
    path.write_bytes(path.read_bytes().replace(b',"8"\n', b',"9"\n'))
    with pytest.raises(TrainingSetMismatch, match="does not hash"):
        training_set(lineage, BASE, dataclasses.replace(KEYED, token_id="keyed-token-2"))


def test_base_data_without_its_keys_is_refused_with_the_reason():
    with pytest.raises(TrainingSetMismatch, match="lacks column.* id .*need their keys"):
        base_rows_root(BASE.drop(columns="id"), KEYED)


def test_an_update_needs_a_key_in_every_row_and_one_row_per_key():
    missing = validate_contribution(pd.DataFrame({"a": [1, 2], "b": [0.1, 0.2], "y": [0, 1], "id": ["x", None]}), KEYED)
    assert [p.code for p in missing.problems] == ["missing_key"]
    assert "1 row(s) have no 'id'" in missing.summary()
    clash = validate_contribution(pd.DataFrame({"a": [1, 2, 3, 3], "b": [0.1, 0.2, 0.3, 0.3], "y": [0, 1, 2, 2],
                                                "id": ["x", "x", "z", "z"]}), KEYED)
    assert [p.code for p in clash.problems] == ["conflicting_key"]
    assert "1 'id' value(s) carry two or more different rows (x)" in clash.summary()
    # the same row twice under one key is a duplicate, not a clash; "3" and 3.0 are one value
    same = validate_contribution(pd.DataFrame({"a": ["3", 3.0], "b": [0.3, 0.3], "y": [2, 2], "id": [5, 5]}), KEYED)
    assert same.passed, same.summary()
    assert same.frame["id"].tolist() == ["5", "5"]


def test_the_same_content_under_two_keys_is_two_rows_and_order_does_not_change_the_commitment():
    frame = pd.DataFrame({"a": [1, 1, 2, 4], "b": [0.5, 0.5, 0.1, 0.2], "y": [0, 0, 1, 2], "id": ["p", "q", "r", "s"]})
    rows = cleaned(frame)
    assert sorted(rows["id"]) == ["p", "q", "r", "s"]
    roots = {commit_rows(committed_rows(cleaned(frame.sample(frac=1.0, random_state=seed)), KEYED))
             for seed in range(6)}
    assert len(roots) == 1
    # without the key in the commitment, the two rows would be one
    assert len(cleaned(frame.drop(columns="id"), SPEC)) == 3


def test_an_append_tokens_commitment_is_unchanged_by_a_key_column():
    appended = dataclasses.replace(SPEC, key_column="id")
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.1], "y": [0, 1], "id": ["p", "q"]})
    assert commit_rows(committed_rows(cleaned(frame, appended), appended)) == commit_rows(
        cleaned(frame.drop(columns="id"), SPEC)[["a", "b", "y"]])
    assert np.array_equal(cleaned(frame, appended)["a"].to_numpy(), [1, 2])
