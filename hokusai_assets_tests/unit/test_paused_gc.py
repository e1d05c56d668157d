"""``paused_gc``: no cyclic collection while a settlement tick runs, and the collector as it was after."""

from __future__ import annotations

import gc
import threading

import pytest

from hokusai.settlement.relay import paused_gc


@pytest.fixture(autouse=True)
def collector_enabled():
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_restored_after_even_when_the_body_raises():
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("the tick failed")
    assert gc.isenabled()


def test_nested_pauses_restore_once_at_the_outermost_exit():
    @paused_gc()
    def inner() -> bool:
        return gc.isenabled()

    with paused_gc():
        assert inner() is False
        assert not gc.isenabled()  # the inner exit did not re-enable it under the outer pause
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_two_threads_overlapping_leave_it_enabled_after_both():
    first_in, second_done = threading.Event(), threading.Event()
    seen = []

    def first():
        with paused_gc():
            first_in.set()
            second_done.wait(5)
            seen.append(gc.isenabled())  # the other thread's exit did not re-enable it

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with paused_gc():
        pass
    second_done.set()
    thread.join(5)
    assert seen == [False] and gc.isenabled()
