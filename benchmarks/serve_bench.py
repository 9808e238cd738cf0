"""Load on ``comp-adapters serve``: a learner's proficiency and a framework package.

Builds a SQLite store with ``--learners`` learners (default 100,000), each with one result
and one piece of evidence on each of ``--competencies`` competencies of the bundled
example framework, makes an API key, starts ``comp-adapters serve`` (one uvicorn process)
on 127.0.0.1, and runs ``--clients`` concurrent clients (httpx, asyncio) for
``--seconds`` per endpoint:

- ``/healthz``: the reference, the cost of HTTP, routing and the access log alone;
- ``/api/v1/frameworks/CS-SUPPORT/learners/{random learner}/proficiency``;
- ``/ims/case/v1p1/CFPackages/{id}``: the whole example framework as CASE 1.1.

Prints requests/s and latency percentiles per endpoint, each endpoint's throughput as a
ratio of the reference's, and ends with ``RESULT ... rps=<n> p99_ms=<n>`` where ``rps`` and
``p99_ms`` are the learner proficiency endpoint's. All traffic stays on the loopback
interface; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from comp_adapters.core.evidence import Evidence
from comp_adapters.core.proficiency import Proficiency
from comp_adapters.examples import example_dir
from comp_adapters.native import load_framework
from comp_adapters.reports.policy import Viewer
from comp_adapters.serve.catalog import document_id_of
from comp_adapters.serve.keys import ApiKeys
from comp_adapters.store import open_store

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
LEVELS = ("beginning", "developing", "proficient", "expert")


def build_store(url: str, learners: int, competencies: int) -> tuple[str, float]:
    framework = load_framework(example_dir() / "framework.json")
    leaves = [c.key for c in framework.walk() if not framework.children_of(c.key)][:competencies]
    started = time.perf_counter()
    rng = random.Random(7)
    with open_store(url) as store:
        chunk = 10_000
        for first in range(0, learners, chunk):
            evidence: list[Evidence] = []
            results: list[Proficiency] = []
            for n in range(first, min(first + chunk, learners)):
                learner = f"learner-{n:06d}"
                for key in leaves:
                    level = rng.randrange(len(LEVELS))
                    evidence_id = f"ev-{n}-{key}"
                    evidence.append(
                        Evidence(
                            id=evidence_id,
                            learner=learner,
                            competency=key,
                            kind="observation",
                            level=LEVELS[level],
                            observed_at=datetime(2026, 2, 1, tzinfo=UTC),
                        )
                    )
                    results.append(
                        Proficiency(
                            learner=learner,
                            competency=key,
                            score=float(level + 1),
                            level=LEVELS[level],
                            proficient=level >= 2,
                            method="highest",
                            evidence_ids=(evidence_id,),
                            as_of=AS_OF,
                            explanation=f"highest of 1 evidence: {LEVELS[level]}",
                        )
                    )
            with store.ingest("bench", query_fingerprint="bench") as batch:
                batch.add_evidence(evidence)
            store.record_proficiency(
                results, framework_key=framework.key, framework_version=framework.version
            )
        key, _ = ApiKeys(store).add(
            "bench", scopes=["case.read", "proficiency.read"], viewer=Viewer.parse("admin")
        )
    return key, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "comp_adapters.cli.main", "serve", "--store", url,
        "--framework", str(example_dir() / "framework.json"), "--port", str(port), "--quiet",
    ]  # fmt: skip
    log = (folder / "serve.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    sys.exit(f"the server did not start: {(folder / 'serve.log').read_text()}")


async def load(
    base: str, paths: list[str], headers: dict[str, str], clients: int, seconds: float
) -> tuple[int, list[float], int]:
    """(requests answered 200, their latencies in ms, other answers) for ``seconds``."""
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:

        async def worker(seed: int) -> None:
            nonlocal failures
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                path = paths[rng.randrange(len(paths))]
                started = time.perf_counter()
                answer = await client.get(path, timeout=30)
                if answer.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failures += 1

        await asyncio.gather(*(worker(n) for n in range(clients)))
    return len(latencies), latencies, failures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--competencies", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'state.db'}"
        key, built = build_store(url, args.learners, args.competencies)
        size = (folder / "state.db").stat().st_size / 1e6
        print(
            f"store: {args.learners:,} learners x {args.competencies} competencies "
            f"({args.learners * args.competencies:,} results and evidence), {size:.0f} MB, "
            f"built in {built:.1f} s"
        )
        port = free_port()
        process = start_server(url, port, folder)
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {key}"}
            rng = random.Random(11)
            sample = [
                f"/api/v1/frameworks/CS-SUPPORT/learners/learner-{rng.randrange(args.learners):06d}"
                "/proficiency"
                for _ in range(5000)
            ]
            document = document_id_of(load_framework(example_dir() / "framework.json"))
            endpoints = {
                "healthz": ["/healthz"],
                "proficiency": sample,
                "package": [f"/ims/case/v1p1/CFPackages/{document}"],
            }
            asyncio.run(load(base, ["/healthz"], headers, args.clients, 1.0))  # warm up
            figures: dict[str, tuple[float, float, float]] = {}
            for name, paths in endpoints.items():
                count, latencies, failures = asyncio.run(
                    load(base, paths, headers, args.clients, args.seconds)
                )
                if failures:
                    sys.exit(f"{name}: {failures} answers were not 200")
                rps = count / args.seconds
                p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
                figures[name] = (rps, p50, p99)
                print(
                    f"{name:12s} {rps:8.0f} requests/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms "
                    f"({count:,} requests, {args.clients} clients, {args.seconds:.0f} s)"
                )
        finally:
            process.terminate()
            process.wait(timeout=30)
    reference = figures["healthz"][0]
    for name in ("proficiency", "package"):
        print(f"{name}: {figures[name][0] / reference:.2f} of the /healthz rate")
    rps, _, p99 = figures["proficiency"]
    print(
        "RESULT "
        f"learners={args.learners} clients={args.clients} "
        f"healthz_rps={reference:.0f} healthz_p99_ms={figures['healthz'][2]:.1f} "
        f"proficiency_rps={rps:.0f} proficiency_p99_ms={p99:.1f} "
        f"proficiency_ratio={rps / reference:.2f} "
        f"package_rps={figures['package'][0]:.0f} package_p99_ms={figures['package'][2]:.1f} "
        f"package_ratio={figures['package'][0] / reference:.2f} "
        f"rps={rps:.0f} p99_ms={p99:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
