"""Benchmark: the REST API on loopback, and the MLflow proxy's overhead.

Usage: .venv/bin/python bench/api_bench.py [--rate 200] [--seconds 10] [--repeats 3]

1. p50 / p99 latency of an authenticated GET (a contribution's status: key check in the
   SQLite key store, rate-limit hit, drop-zone stat) at ``--rate`` requests per second for
   ``--seconds`` against ``hokusai api`` (in-process limits), open loop at a fixed rate by a raw
   asyncio HTTP/1.1 client (``raw_open_loop``, ``--open-loop-repeats`` runs), with the API
   processes' CPU-seconds per request from /proc. Then, with ``wrk`` on the PATH (Debian:
   ``apt-get install wrk``; a C client, so the load generator does not compete with the server
   for the GIL-bound Python it measures) 10 connections each pace themselves to rate/10 per
   second; without it, an open-loop httpx client (whose own CPU cost skews a loaded machine);
2. one ``mlflow.sklearn.log_model(..., registered_model_name=...)`` + ``create_model_version``
   directly against a real MLflow server and through the API's proxy, ``--repeats`` times each
   (alternating), each in a fresh process so the client's imports are not timed; medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hokusai_assets_tests.api_fixtures import start_api_server  # noqa: E402
from hokusai_assets_tests.conftest import isolated_settings  # noqa: E402
from hokusai.harness.mlflow_server import start_mlflow_server  # noqa: E402

WALLET = "0x00000000000000000000000000000000000d1617"
LOG_AND_REGISTER = r"""
import json, os, sys, time
import mlflow, mlflow.sklearn
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression
mlflow.set_tracking_uri(sys.argv[1])
name = sys.argv[2]
model = LogisticRegression(max_iter=200).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
mlflow.set_experiment("bench")
started = time.perf_counter()
with mlflow.start_run() as run:
    info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name, pip_requirements=["scikit-learn"])
MlflowClient().create_model_version(name=name, source=info.model_uri, run_id=run.info.run_id, model_id=info.model_id)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


async def open_loop(url: str, headers: dict[str, str], rate: int, seconds: int) -> tuple[list[float], dict[int, int]]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=400)) as client:
        async def one() -> None:
            started = time.perf_counter()
            try:
                answer = await client.get(url, headers=headers)
                outcome: int | str = answer.status_code
            except httpx.HTTPError as error:  # counted, not hidden: a request the server could not take
                outcome = type(error).__name__
            latencies.append(time.perf_counter() - started)
            statuses[outcome] = statuses.get(outcome, 0) + 1

        tasks = []
        start = time.perf_counter()
        for index in range(rate * seconds):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return latencies, statuses


async def raw_open_loop(url: str, key: str, rate: int, seconds: int) -> dict:
    """Open loop at a fixed rate: request i is due at start + i/rate whatever the earlier ones are
    doing, sent on an idle keep-alive connection (a new one when none is idle), its latency counted
    from when it was due (no coordinated omission). Raw HTTP/1.1 on asyncio streams: a few tens of
    microseconds of client CPU a request, so the client does not steal the server's core."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {key}\r\n\r\n").encode()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    opened = 0

    async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        return head[9:12].decode()

    async def one(due: float) -> None:
        nonlocal opened
        reused = bool(idle)
        for attempt in range(2):  # a reused connection the server closed meanwhile (keep-alive timeout): once more
            if reused and attempt == 0:
                reader, writer = idle.pop()
            else:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                opened += 1
            try:
                status = await exchange(reader, writer)
                break
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                writer.close()
                status = type(error).__name__
                if not reused or attempt == 1:
                    break
                reused = False
        else:
            status = "error"
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1
        if status.isdigit():
            idle.append((reader, writer))

    tasks = []
    start = time.perf_counter() + 0.05
    for index in range(rate * seconds):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return {"client": "raw open loop", "rate_per_s": rate, "seconds": seconds, "requests": len(latencies),
            "achieved_per_s": round(len(latencies) / elapsed, 1), "connections_opened": opened,
            "statuses": statuses, "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p90_ms": round(percentile(latencies, 0.90) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2), "load_average": os.getloadavg()}


WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer %(key)s"
function delay() return %(delay_ms)d end
"""


def wrk_paced(url: str, key: str, rate: int, seconds: int, root: Path, delay_ms: float | None = None) -> dict:
    """wrk with 20 connections, each waiting ``delay_ms`` between requests (first guess: 20000/rate)."""
    import re
    import shutil

    connections = 20
    delay_ms = 1000 * connections / rate if delay_ms is None else delay_ms
    script = root / "paced.lua"
    script.write_text(WRK_SCRIPT % {"key": key, "delay_ms": max(1, round(delay_ms))})
    done = subprocess.run([shutil.which("wrk"), "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
                           "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60)
    out = done.stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE).groups()
        return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)

    return {"client": "wrk", "rate_per_s": rate, "connections": connections, "seconds": seconds,
            "delay_ms": max(1, round(delay_ms)),
            "achieved_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50"), "p90_ms": ms("90"), "p99_ms": ms("99"),
            "non_2xx": int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1]),
            "load_average": os.getloadavg()}


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in the API's process group (uvicorn and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def log_and_register(tracking_uri: str, name: str, token: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HOKUSAI_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run([sys.executable, "-c", LOG_AND_REGISTER, tracking_uri, name], capture_output=True,
                          text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="API worker processes")
    parser.add_argument("--skip-mlflow", action="store_true", help="only the authenticated GET")
    parser.add_argument("--skip-httpx", action="store_true", help="no httpx open-loop run")
    parser.add_argument("--skip-wrk", action="store_true", help="no wrk run")
    parser.add_argument("--open-loop-repeats", type=int, default=3, help="runs of the raw open-loop client")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="hokusai-api-bench-"))
    # only the proxy's part needs an MLflow server; the GET runs on the embedded default without one
    mlflow_server = None if args.skip_mlflow else start_mlflow_server(root / "mlflow", timeout=300)
    tracking = {"MLFLOW_TRACKING_URI": mlflow_server.url} if mlflow_server else {}
    env = {"HOKUSAI_HOME": str(root / "home"), **tracking,
           "RATE_LIMIT_REQUESTS": "1000000", "RATE_LIMIT_MLFLOW_REQUESTS": "1000000"}
    api = start_api_server(env, root / "api.log", workers=args.workers, timeout=300)
    try:
        from hokusai.api.app import build_state
        from hokusai.api.keys import create_key
        from hokusai.contribution_status import drop_contribution

        settings = isolated_settings(root / "home", root / "cache", tracking)
        state = build_state(settings)
        key = create_key(state.engine, state.pepper, "bench", "admin")[0]
        partition_key, _, _ = drop_contribution(state.store, "digits-demo", WALLET, "bench.csv", b"a,b\n1,2\n",
                                                {"digits-demo"})
        headers = {"Authorization": f"Bearer {key}"}
        url = f"{api.url}/api/v1/contributions/{partition_key}"
        asyncio.run(open_loop(url, headers, 50, 1))  # warm up
        for _ in range(args.open_loop_repeats):
            cpu_before = group_cpu_seconds(api.process.pid)
            measured = asyncio.run(raw_open_loop(url, key, args.rate, args.seconds))
            cpu = group_cpu_seconds(api.process.pid) - cpu_before
            print(json.dumps({"authenticated_get_open_loop": {
                "workers": args.workers, **measured, "api_cpu_s": round(cpu, 2),
                "api_cpu_ms_per_request": round(1000 * cpu / max(measured["requests"], 1), 3)}}, indent=2))
        import shutil

        if shutil.which("wrk") and not args.skip_wrk:
            # calibrate: each connection's cycle is delay + latency, so shorten the delay by what a
            # 3 s trial shows the cycle overshoots, then measure
            trial = wrk_paced(url, key, args.rate, 3, root)
            overshoot = 20 * 1000 / trial["achieved_per_s"] - 20 * 1000 / args.rate
            cpu_before = group_cpu_seconds(api.process.pid)
            measured = wrk_paced(url, key, args.rate, args.seconds, root, trial["delay_ms"] - overshoot)
            cpu = group_cpu_seconds(api.process.pid) - cpu_before
            requests = measured["achieved_per_s"] * args.seconds
            print(json.dumps({"authenticated_get": {
                "workers": args.workers, **measured, "api_cpu_s": round(cpu, 2),
                "api_cpu_ms_per_request": round(1000 * cpu / max(requests, 1), 3)}}, indent=2))
        began = time.perf_counter()
        latencies, statuses = ([], {}) if args.skip_httpx else asyncio.run(
            open_loop(url, headers, args.rate, args.seconds))
        elapsed = time.perf_counter() - began
        print(json.dumps({} if args.skip_httpx else {"authenticated_get_httpx_open_loop": {
            "rate_per_s": args.rate, "workers": args.workers, "requests": len(latencies), "statuses": statuses,
            "achieved_per_s": round(len(latencies) / elapsed, 1), "load_average": os.getloadavg(),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2)}}, indent=2))
        direct, proxied = [], []
        for repeat in range(0 if args.skip_mlflow else args.repeats):
            direct.append(log_and_register(mlflow_server.url, f"bench-direct-{repeat}", None))
            proxied.append(log_and_register(f"{api.url}/api/mlflow", f"bench-proxied-{repeat}", key))
        if direct:
            print(json.dumps({"log_model_and_register": {
                "direct_s": [round(s, 3) for s in direct], "proxied_s": [round(s, 3) for s in proxied],
                "direct_median_s": round(statistics.median(direct), 3),
                "proxied_median_s": round(statistics.median(proxied), 3),
                "overhead_ms": round((statistics.median(proxied) - statistics.median(direct)) * 1000, 1)}},
                indent=2))
        print(f"load average: {os.getloadavg()}")
    finally:
        api.stop()
        if mlflow_server:
            mlflow_server.stop()
        import shutil

        shutil.rmtree(root, ignore_errors=True)  # the state folder, the stores, the logs of this run


if __name__ == "__main__":
    main()
