"""``hokusai.commitments.rows``: the row Merkle root against a by-the-spec reference, and row lines."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from hokusai import workers
from hokusai.commitments.rows import (_split_records, canonical_row_lines, commit_rows, prove_row, read_rows_file,
                                      rows_root, verify_row, write_rows_file)


def reference_root(lines: list[bytes]) -> str:
    """sha256-rows-merkle-v1 as the scheme's docstring states it, one level at a time."""
    level = [hashlib.sha256(b"\x00" + line).digest() for line in lines]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return "0x" + level[0].hex()


@pytest.mark.parametrize("count", [1, 2, 3, 5, 6, 7, 8, 9, 1000, 1025])
def test_root_matches_the_reference(count):
    lines = [f"{i},row {i}".encode() for i in range(count)]
    assert rows_root(lines) == reference_root(lines)


def test_known_answer():
    assert rows_root([b"a", b"b", b"c"]) == reference_root([b"a", b"b", b"c"]) == (
        "0x" + hashlib.sha256(b"\x01" + hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00a").digest()
                                                       + hashlib.sha256(b"\x00b").digest()).digest()
                              + hashlib.sha256(b"\x01" + hashlib.sha256(b"\x00c").digest() * 2).digest()).hexdigest())


def test_every_row_proves_against_the_root():
    lines = [f"{i}".encode() for i in range(13)]
    for index in range(13):
        proof = prove_row(lines, index)
        assert proof.root == rows_root(lines) and verify_row(proof.as_dict())


def test_lines_of_a_frame_with_a_newline_in_a_cell():
    frame = pd.DataFrame({"x": [1.5, 2.0, np.nan], "t": ["plain", "two\nlines", 'say "hi"']})
    lines = canonical_row_lines(frame)
    assert lines == [b'1.5,"plain"', b'2,"two\nlines"', b',"say ""hi"""']


def test_split_with_a_known_row_count_takes_the_fast_path_only_when_it_is_exact():
    data = b'1,"a"\n2,"b\nc"\n3,"d"\n'
    assert _split_records(data, rows=3) == [b'1,"a"', b'2,"b\nc"', b'3,"d"']
    assert _split_records(data) == _split_records(data, rows=3)
    assert _split_records(b'1,"a"\n2,"b"\n', rows=2) == [b'1,"a"', b'2,"b"']


def test_rows_file_is_header_then_one_line_per_row(tmp_path):
    lines = [b'1,"a"', b'2,"b\nc"']
    write_rows_file(tmp_path / "rows.csv", ["n", "t"], lines)
    assert (tmp_path / "rows.csv").read_bytes() == b'n,t\n1,"a"\n2,"b\nc"\n'
    assert read_rows_file(tmp_path / "rows.csv") == lines


@pytest.mark.parametrize("chunk_rows", [1, 2, 4, 1 << 17])
def test_commit_rows_is_the_root_and_the_file_of_the_whole_table(tmp_path, chunk_rows):
    frame = pd.DataFrame({"x": [1.5, 2.0, np.nan, -0.0, 1e300, 7, 8, 9],
                          "t": ["plain", "two\nlines", 'say "hi"', None, "é ✓", "a,b", "", "last"],
                          "y": [0, 1, 0, 1, 0, 1, 0, 1]})
    lines = canonical_row_lines(frame)
    write_rows_file(tmp_path / "whole.csv", list(frame.columns), lines)
    root = commit_rows(frame, tmp_path / "chunked.csv", chunk_rows=chunk_rows)
    assert root == rows_root(lines) == reference_root(lines)
    assert (tmp_path / "chunked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert not (tmp_path / "chunked.tmp").exists()
    assert commit_rows(frame, chunk_rows=chunk_rows) == root


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 40])
@pytest.mark.parametrize("chunk_rows", [1, 2, 4, 8])
def test_chunked_roots_equal_the_whole_trees_root(rows, chunk_rows):
    """Short last chunks, lone nodes, one chunk or many: always the whole table's root."""
    frame = pd.DataFrame({"n": range(rows), "t": [f"row {i}" for i in range(rows)]})
    assert commit_rows(frame, chunk_rows=chunk_rows) == reference_root(canonical_row_lines(frame))


def test_worker_processes_give_the_same_root_and_file(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "_count", 2)
    frame = pd.DataFrame({"n": range(1000), "t": [f"row {i}, é" for i in range(1000)]})
    lines = canonical_row_lines(frame)
    root = commit_rows(frame, tmp_path / "pooled.csv", chunk_rows=64, min_parallel_rows=1)
    assert root == reference_root(lines) == commit_rows(frame, chunk_rows=64, min_parallel_rows=10**9)
    write_rows_file(tmp_path / "whole.csv", list(frame.columns), lines)
    assert (tmp_path / "pooled.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_chunks_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        commit_rows(pd.DataFrame({"x": [1, 2, 3]}), chunk_rows=3)


def test_commit_rows_of_no_rows_raises():
    with pytest.raises(ValueError, match="at least one row"):
        commit_rows(pd.DataFrame({"x": []}))
