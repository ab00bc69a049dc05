"""Peak RSS of target-redis loading large records (the byte budget's case).

    python -m benchmarks.big_records [--records 10000] [--size 1000000]
                                     [--batch-size-bytes N ...] [--setting name=value ...]

Records of about ``--size`` bytes are generated on the fly into the target's stdin
(nothing is stored on disk); they are upserted on 10 keys, so Redis holds ~10 records
whatever the count. Prints records/s and the target's own peak RSS (its ``ru_maxrss``,
read as it exits) for each byte budget (default: the setting's default). ``--setting``
adds to the config (``cache_type=list``, ``record_format=fields``, ``load_method=...``;
a list or stream keeps every record: mind Redis's memory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import typing as t

from devtools.server import RedisServer, find_server_binary

# The target, reporting its own peak RSS on stderr as it exits.
_MEASURED = (
    "import atexit, resource, runpy, sys\n"
    "atexit.register(lambda: print('PEAK_RSS_KB', "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))\n"
    "sys.argv[0] = 'target-redis'\n"
    "runpy.run_module('target_redis', run_name='__main__')\n"
)


def feed(stdin: t.BinaryIO, records: int, size: int) -> None:
    """SCHEMA, then ``records`` records of ~``size`` bytes, then a STATE."""
    properties = {"id": {"type": "integer"}, "blob": {"type": "string"}}
    schema = {
        "type": "SCHEMA",
        "stream": "big",
        "schema": {"type": "object", "properties": properties},
        "key_properties": ["id"],
    }
    stdin.write(json.dumps(schema).encode() + b"\n")
    blob = "x" * size
    for i in range(records):
        line = f'{{"type":"RECORD","stream":"big","record":{{"id":{i % 10},"blob":"{blob}"}}}}\n'
        stdin.write(line.encode())
    stdin.write(b'{"type":"STATE","value":{"done":true}}\n')
    stdin.close()


def run(
    port: int, records: int, size: int, budget: int | None, extra: dict[str, t.Any]
) -> tuple[float, float]:
    """Records/s and peak RSS (MiB) of one load."""
    config: dict[str, t.Any] = {"host": "127.0.0.1", "port": port, "load_method": "upsert"}
    config.update(extra)
    if budget is not None:
        config["batch_size_bytes"] = budget
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURED, "--config", path],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stderr is not None
    writer = threading.Thread(target=feed, args=(proc.stdin, records, size))
    writer.start()
    stderr = proc.stderr.read()  # not communicate(): it would close stdin under the writer
    proc.wait()
    writer.join()
    seconds = time.monotonic() - started
    os.unlink(path)
    text = stderr.decode(errors="replace")
    if proc.returncode:
        sys.exit(text[-2000:])
    peak_kb = next(int(ln.split()[1]) for ln in text.splitlines() if ln.startswith("PEAK_RSS_KB"))
    return records / seconds, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--batch-size-bytes", type=int, nargs="*", default=[None])
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.setting)
    binary = find_server_binary()
    if binary is None:
        sys.exit("No redis-server found.")
    shape = ", ".join(args.setting) or "upserted on 10 keys"
    print(f"{args.records} records of {args.size} B, {shape}")
    print("| batch_size_bytes | records/s | peak RSS MiB |\n| ---: | ---: | ---: |")
    with RedisServer(binary) as server:
        for budget in args.batch_size_bytes:
            rate, rss = run(server.port, args.records, args.size, budget, extra)
            label = "default" if budget is None else str(budget)
            print(f"| {label} | {rate:,.0f} | {rss:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
