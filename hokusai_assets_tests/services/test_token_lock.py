"""The registry lock of a token, on both ledgers: one holder at a time across processes, other
tokens never wait, a waiter times out with a clear reason, and a holder that dies frees it."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from hokusai.chain.token_lock import TokenLockTimeout, token_lock
from hokusai.settlement.database import ledger_engine

HOLD_IN_A_CHILD = """
import sys, time
from hokusai.chain.token_lock import token_lock
from hokusai.settlement.database import ledger_engine
with token_lock(ledger_engine(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def hold_in_a_child(url: str, token_id: str, seconds: float) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLD_IN_A_CHILD, url, token_id, str(seconds)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_one_holder_at_a_time_across_processes_and_other_tokens_never_wait(ledger_url):
    engine = ledger_engine(ledger_url)
    child = hold_in_a_child(ledger_url, "digits-demo", 1.5)
    try:
        told = []
        with token_lock(engine, "churn-demo", timeout_seconds=0.2, on_wait=told.append):  # another token
            assert told == []  # nothing to wait for
        started, told = time.monotonic(), []
        with token_lock(engine, "digits-demo", timeout_seconds=30, on_wait=told.append):
            waited = time.monotonic() - started
            assert child.poll() is not None  # the child had let go before this block began
    finally:
        child.wait(timeout=30)
    assert 0.5 < waited < 10, waited
    assert told == ["waiting for the model registry lock of token digits-demo: another run holds it"]


def test_a_waiter_times_out_with_the_token_and_what_to_do(ledger_url):
    engine = ledger_engine(ledger_url)
    with token_lock(engine, "digits-demo"):
        result: list[BaseException] = []

        def wait_for_it() -> None:
            try:
                with token_lock(engine, "digits-demo", timeout_seconds=0.3):
                    pass
            except TokenLockTimeout as error:
                result.append(error)

        waiter = threading.Thread(target=wait_for_it)  # another thread of this process waits too
        waiter.start()
        waiter.join(timeout=30)
    assert len(result) == 1
    assert str(result[0]) == ("the model registry of token digits-demo was held by another run for more than 0.3 s; "
                              "run this evaluation again once that run has ended")


def test_a_holder_that_dies_frees_the_lock(ledger_url):
    engine = ledger_engine(ledger_url)
    child = hold_in_a_child(ledger_url, "digits-demo", 600)
    child.kill()
    child.wait(timeout=30)
    with token_lock(engine, "digits-demo", timeout_seconds=10):
        pass


def test_an_in_memory_ledger_locks_within_its_process():
    engine = ledger_engine("sqlite://")
    with token_lock(engine, "digits-demo"):
        with pytest.raises(TokenLockTimeout):
            with token_lock(engine, "digits-demo", timeout_seconds=0.1):
                pass
    with token_lock(engine, "digits-demo", timeout_seconds=0.1):
        pass
