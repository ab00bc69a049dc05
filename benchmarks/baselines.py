"""Baselines the target is measured against (each reads Singer messages on stdin).

reference  hand-written loader: orjson, one INCRBY and a pipeline of 10k HSETs per batch
           (with --cluster: redis-py's cluster pipeline)
naive      Airbyte-style: one INCR and one HSET round trip per record
noop       a singer-sdk target whose BatchSink does nothing
"""

from __future__ import annotations

import argparse
import sys
import time

import orjson
import redis
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink

BATCH = 10_000


def _fields(ab_id: int, message: dict) -> dict:
    """The three Airbyte hash fields of one RECORD message."""
    return {
        "_airbyte_ab_id": ab_id,
        "_airbyte_emitted_at": str(time.time_ns() // 1_000_000),
        "_airbyte_data": orjson.dumps(message["record"]),
    }


def reference(client: redis.Redis | redis.RedisCluster) -> None:
    pending: dict[str, list[dict]] = {}

    def flush(stream: str) -> None:
        rows = pending.pop(stream, [])
        if not rows:
            return
        last = client.incrby(f":{stream}", len(rows))
        with client.pipeline(transaction=False) as pipe:
            for ab_id, message in enumerate(rows, start=last - len(rows) + 1):
                pipe.hset(f":{stream}:{ab_id}", mapping=_fields(ab_id, message))
            pipe.execute()

    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        kind = message.get("type")
        if kind == "RECORD":
            rows = pending.setdefault(message["stream"], [])
            rows.append(message)
            if len(rows) >= BATCH:
                flush(message["stream"])
        elif kind == "STATE":
            for stream in list(pending):
                flush(stream)
            sys.stdout.write(orjson.dumps(message["value"]).decode() + "\n")
    for stream in list(pending):
        flush(stream)


def naive(client: redis.Redis | redis.RedisCluster) -> None:
    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        if message.get("type") == "RECORD":
            stream = message["stream"]
            ab_id = client.incr(f":{stream}")
            client.hset(f":{stream}:{ab_id}", mapping=_fields(ab_id, message))


class NoopSink(BatchSink):
    def process_batch(self, context: dict) -> None:
        pass


class NoopTarget(Target):
    name = "target-noop"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class = NoopSink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["reference", "naive", "noop"])
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--validate", action="store_true", help="noop: validate records")
    parser.add_argument("--cluster", action="store_true", help="the port is a cluster node's")
    args = parser.parse_args()
    if args.kind == "noop":
        NoopTarget(config={"validate_records": args.validate}).listen(sys.stdin)
        return
    if args.cluster:
        client: redis.Redis | redis.RedisCluster = redis.RedisCluster("127.0.0.1", args.port)
    else:
        client = redis.Redis(port=args.port)
    reference(client) if args.kind == "reference" else naive(client)


if __name__ == "__main__":
    main()
