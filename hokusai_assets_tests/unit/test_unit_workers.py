"""Worker processes give the same answers as the calling process, and never lose work."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pandas as pd
import pytest

from hokusai import workers
from hokusai.pii.scrub import scrub_frame
from hokusai.pii.tokens import pii_key
from hokusai.harness.pii_corpus import make_corpus

KEY = pii_key(b"w" * 32, "workers-test")


def _dies_in_a_worker(value: int) -> int:
    """Kills the process it runs in, unless that is the test process itself."""
    if multiprocessing.parent_process() is not None:
        os._exit(3)
    return value * 2


@pytest.fixture
def parallel_from_one_row(monkeypatch):
    monkeypatch.setattr(workers, "_count", 2)
    monkeypatch.setattr(workers, "PARALLEL_MIN_ROWS", 1)


def test_no_pool_below_the_threshold_or_with_one_worker(monkeypatch):
    monkeypatch.setattr(workers, "_count", 2)
    assert workers.pool_for(workers.PARALLEL_MIN_ROWS - 1) is None
    monkeypatch.setattr(workers, "_count", 1)
    assert workers.pool_for(10 ** 9) is None


def test_parts_cover_every_item_once_in_order(parallel_from_one_row):
    pool = workers.pool_for(10)
    for items in ([], [1], list(range(7)), list(range(10))):
        pieces = workers.parts(items, pool)
        assert [x for piece in pieces for x in piece] == items and len(pieces) <= 2
    assert workers.parts(list(range(7)), None) == [list(range(7))]


def test_scrubbing_in_worker_processes_equals_scrubbing_here(parallel_from_one_row, monkeypatch):
    corpus = make_corpus(rows=1500, seed=3)
    frame = corpus.frame.assign(contact_email=[f"user{i % 700}@example.org" for i in range(len(corpus.frame))])
    pooled = scrub_frame(frame, KEY)
    monkeypatch.setattr(workers, "_count", 0)
    here = scrub_frame(frame, KEY)
    pd.testing.assert_frame_equal(pooled.frame, here.frame)
    assert (pooled.counts, pooled.columns_hashed, pooled.cells_changed) == (
        here.counts, here.columns_hashed, here.cells_changed)
    assert pooled.counts["email"] > 1500 and "contact_email" in pooled.columns_hashed


def test_a_broken_pool_is_dropped_and_the_call_runs_here(parallel_from_one_row, caplog):
    pool = workers.pool_for(10)
    task = workers.Task(pool, _dies_in_a_worker, 21)
    assert task.result() == 42
    assert "worker processes unavailable" in caplog.text
    assert workers.pool_for(10) is not pool  # a fresh pool next time
    assert workers.Task(workers.pool_for(10), np.add, 1, 2).result() == 3
