"""Baselines the target is measured against (each reads Singer messages on stdin).

reference  hand-written loader: orjson, one INCRBY and a pipeline of 10k HSETs per batch
           (with --cluster: redis-py's cluster pipeline)
naive      Airbyte-style: one INCR and one HSET round trip per record
noop       a singer-sdk target whose BatchSink does nothing
ceiling    the fastest honest Python loader, without validation: msgspec decoding,
           compact re-encoding of each record, hand-built RESP on a socket, replies
           consumed by hiredis.Reader (the same keys and fields as the others)
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import time

import hiredis
import msgspec
import orjson
import redis

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


class _Message(msgspec.Struct):
    type: str
    stream: str = ""
    record: dict = {}
    value: msgspec.Raw = msgspec.Raw(b"null")


_HSET = (
    b"*8\r\n$4\r\nHSET\r\n$%d\r\n%b\r\n$14\r\n_airbyte_ab_id\r\n$%d\r\n%b\r\n"
    b"$19\r\n_airbyte_emitted_at\r\n$%d\r\n%b\r\n$13\r\n_airbyte_data\r\n$%d\r\n%b\r\n"
)


class _Socket:
    """One connection: send a buffer, read ``count`` replies with hiredis."""

    def __init__(self, port: int, ca_file: str | None) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ca_file:
            context = ssl.create_default_context(cafile=ca_file)
            sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
        self.sock = sock
        self.reader = hiredis.Reader()

    def call(self, payload: bytes, count: int) -> list:
        self.sock.sendall(payload)
        replies = []
        reader, recv = self.reader, self.sock.recv
        while len(replies) < count:
            reply = reader.gets()
            if reply is False:
                reader.feed(recv(1 << 16))
                continue
            if isinstance(reply, hiredis.ReplyError):
                raise SystemExit(f"Redis error: {reply}")
            replies.append(reply)
        return replies


def ceiling(port: int, ca_file: str | None) -> None:
    conn = _Socket(port, ca_file)
    decode = msgspec.json.Decoder(_Message).decode
    encode = msgspec.json.Encoder().encode
    pending: dict[str, list[bytes]] = {}

    def flush(stream: str) -> None:
        records = pending.pop(stream, [])
        if not records:
            return
        name = stream.encode()
        counter = b":" + name
        incr = b"*3\r\n$6\r\nINCRBY\r\n$%d\r\n%b\r\n$%d\r\n%d\r\n" % (
            len(counter),
            counter,
            len(str(len(records))),
            len(records),
        )
        (last,) = conn.call(incr, 1)
        now = b"%d" % (time.time_ns() // 1_000_000)
        prefix = counter + b":"
        out = []
        for ab_id, data in enumerate(records, start=last - len(records) + 1):
            text = b"%d" % ab_id
            key = prefix + text
            out.append(_HSET % (len(key), key, len(text), text, len(now), now, len(data), data))
        conn.call(b"".join(out), len(out))

    for line in sys.stdin.buffer:
        message = decode(line)
        if message.type == "RECORD":
            rows = pending.setdefault(message.stream, [])
            rows.append(encode(message.record))
            if len(rows) >= BATCH:
                flush(message.stream)
        elif message.type == "STATE":
            for stream in list(pending):
                flush(stream)
            sys.stdout.write(bytes(message.value).decode() + "\n")
    for stream in list(pending):
        flush(stream)


def noop(validate: bool) -> None:
    """A singer-sdk target whose BatchSink does nothing (imported here: the other
    loaders do not pay for the SDK's import)."""
    from singer_sdk import Target
    from singer_sdk import typing as th
    from singer_sdk.sinks import BatchSink

    class NoopSink(BatchSink):
        def process_batch(self, context: dict) -> None:
            pass

    class NoopTarget(Target):
        name = "target-noop"
        config_jsonschema = th.PropertiesList().to_dict()
        default_sink_class = NoopSink

    NoopTarget(config={"validate_records": validate}).listen(sys.stdin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["reference", "naive", "noop", "ceiling"])
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--tls-ca", help="connect with TLS, trusting this CA file")
    parser.add_argument("--validate", action="store_true", help="noop: validate records")
    parser.add_argument("--cluster", action="store_true", help="the port is a cluster node's")
    args = parser.parse_args()
    if args.kind == "noop":
        noop(args.validate)
        return
    if args.kind == "ceiling":
        ceiling(args.port, args.tls_ca)
        return
    tls = {"ssl": True, "ssl_ca_certs": args.tls_ca} if args.tls_ca else {}
    if args.cluster:
        client: redis.Redis | redis.RedisCluster = redis.RedisCluster("127.0.0.1", args.port, **tls)
    else:
        client = redis.Redis("127.0.0.1", port=args.port, **tls)
    reference(client) if args.kind == "reference" else naive(client)


if __name__ == "__main__":
    main()
