"""Peak RSS of overwrite against append-only, and the Redis memory of the key index.

    python -m benchmarks.overwrite_memory [--records 200000 600000] [--shape narrow]

Each load method runs over the same generated input into an emptied server, twice
(the second overwrite replaces the first); the table gives the target's peak RSS
(``ru_maxrss``) and, for keyed streams, the key index's ``MEMORY USAGE`` per key.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks import generate
from benchmarks.run import PY, measure
from devtools.server import RedisServer, find_server_binary
from target_redis.keyspace import KeySpace

METHODS = {
    "append-only": {},
    "overwrite (ids)": {"load_method": "overwrite", "overwrite_keys": "ids"},
    "overwrite (primary-key)": {"load_method": "overwrite", "overwrite_keys": "primary-key"},
    "upsert": {"load_method": "upsert"},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, nargs="+", default=[200_000, 600_000])
    parser.add_argument("--shape", default="narrow", choices=generate.SHAPES)
    args = parser.parse_args()
    binary = find_server_binary()
    assert binary is not None, "no redis-server"
    print("| records | load method | peak RSS MiB (2nd run) | vs append-only | index B/key |")
    print("| ---: | --- | ---: | ---: | ---: |")
    with RedisServer(binary) as server, tempfile.TemporaryDirectory() as tmp:
        for count in args.records:
            path = Path(tmp) / f"{count}.jsonl"
            with path.open("w") as out:
                generate.write(out, count, shape=args.shape)
            base = 0.0
            for name, settings in METHODS.items():
                config = Path(tmp) / "config.json"
                config.write_text(json.dumps(server.config(**settings)))
                with server.client() as client:
                    client.flushall()
                argv = [PY, "-m", "target_redis", "--config", str(config)]
                measure(argv, path)
                _, rss_kib, code = measure(argv, path)
                assert code == 0, name
                rss = rss_kib / 1024
                base = base or rss
                with server.client() as client:
                    index = KeySpace("", generate.STREAM).index_key
                    keys = client.scard(index)
                    usage = client.memory_usage(index) or 0
                per_key = f"{usage / keys:.0f}" if keys else "-"
                print(f"| {count:,} | {name} | {rss:.0f} | {rss / base:.2f}x | {per_key} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
