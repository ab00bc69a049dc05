"""CPU per record of target-redis from two source trees, alternating, on one input.

    python -m benchmarks.ab OLD_TREE [NEW_TREE] [--shape narrow] [--rounds 4] [--config JSON]

A tree is a checkout (``git worktree add /tmp/old <commit>``); NEW_TREE defaults to
this one. Each round runs the old tree, then the new one, each a fresh process loading
the generated input twice into a throwaway Redis; a run's figure is the lower of its
two loads' ``process_time`` per record (target.listen only: no imports, no start-up).
CPU time of the target's own process is steadier on a shared 2-core machine than the
wall time ``benchmarks.run`` reports, which moves with Redis and the baselines: use this
to decide whether a change pays, ``benchmarks.run`` for the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import generate
from benchmarks.run import server_binary
from devtools.server import RedisServer

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import contextlib, gc, io, json, logging, sys, time
import redis
from target_redis.target import TargetRedis
path, config = sys.argv[1], json.loads(sys.argv[2])
data = open(path, "rb").read()
records = data.count(b'"type": "RECORD"')
client = redis.Redis(host=config["host"], port=config["port"])
logging.disable(logging.INFO)
gc.freeze()
gc.set_threshold(50_000, 20, 20)
best = float("inf")
for _ in range(2):
    client.flushall()
    with contextlib.redirect_stdout(io.StringIO()):
        target = TargetRedis(config=dict(config))
        start = time.process_time()
        target.listen(target.stop.guard(io.BufferedReader(io.BytesIO(data))))
        best = min(best, time.process_time() - start)
        target.close()
    gc.collect()
import target_redis
print(target_redis.__file__)
print(best / records * 1e6)
"""


def cpu_per_record(tree: Path, data: Path, config: dict) -> float:
    """µs of CPU per record for one run of ``tree`` (the lower of two loads)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data), json.dumps(config)],
        cwd=data.parent,  # not this checkout: ``-c`` puts the working directory first
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    module, figure = done.stdout.strip().splitlines()[-2:]
    if not Path(module).resolve().is_relative_to(tree):
        sys.exit(f"{tree} was not the tree imported ({module}): is it a checkout?")
    return float(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?", default=ROOT)
    parser.add_argument("--shape", choices=generate.SHAPES, default="narrow")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--config", default="{}", help="settings added to host and port")
    args = parser.parse_args()
    binary = server_binary()
    figures: dict[str, list[float]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp, RedisServer(binary) as server:
        data = Path(tmp) / "input.singer"
        with open(data, "w", encoding="utf-8") as out:
            generate.write(out, args.records, shape=args.shape)
        config = {**server.config(), **json.loads(args.config)}
        for _ in range(args.rounds):
            for name, tree in (("old", args.old), ("new", args.new)):
                figures[name].append(cpu_per_record(tree.resolve(), data, config))
    old, new = (statistics.median(figures[name]) for name in ("old", "new"))
    for name in ("old", "new"):
        print(f"{name}: " + " ".join(f"{x:.2f}" for x in figures[name]) + " µs/record")
    print(f"median {old:.2f} -> {new:.2f} µs/record ({(new / old - 1) * 100:+.1f}%)")
    print(f"trees: old {args.old.resolve()}, new {args.new.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
