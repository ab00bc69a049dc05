"""``cluster_mode`` against real 3-master Redis Clusters started by the tests: every
load method and cache type read back through a cluster client, ACL users, TLS,
passwords, WAIT per master, slots migrating under a load, a master failing over;
settings a cluster cannot honour are refused."""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
import typing as t
from pathlib import Path

import pytest
import redis
import trustme
from conftest import need_server_binary, need_tls_server_binary
from helpers import record_msg, run_cli, run_target, schema_msg, singer_lines, state_msg
from live import LiveRun, stream_lines
from redis.crc import key_slot

from devtools.cluster import LocalCluster
from devtools.server import RedisServer
from target_redis.errors import TargetRedisError
from target_redis.keyspace import KeySpace
from target_redis.pipelines import send_to_cluster
from target_redis.server import ServerInfo
from target_redis.target import TargetRedis
from target_redis.writer import Writer

PROPS = {"id": {"type": "integer"}, "v": {"type": "string"}}


@pytest.fixture(scope="module")
def cluster() -> t.Iterator[LocalCluster]:
    with LocalCluster(need_server_binary()) as started:
        yield started


@pytest.fixture
def cc(cluster: LocalCluster) -> t.Iterator[redis.RedisCluster]:
    """A cluster client of the emptied cluster."""
    client = cluster.client()
    client.flushall()
    yield client
    client.close()


def lines(ids: t.Iterable[int], tag: str, stream: str = "s") -> str:
    ids = list(ids)
    return singer_lines(
        schema_msg(stream, PROPS, ["id"]),
        *[record_msg(stream, {"id": i, "v": f"{tag}{i}"}) for i in ids],
        state_msg({stream: ids[-1]}),
    )


def records(client: redis.RedisCluster, pattern: str = ":s:*") -> dict[str, dict]:
    """Every record hash matching ``pattern`` on any master: key -> its _airbyte_data."""
    found = {}
    for key in client.scan_iter(match=pattern, _type="hash"):
        found[key] = json.loads(client.hget(key, "_airbyte_data"))
    return found


def keys_per_master(
    cluster: LocalCluster, pattern: str = ":s:*", admin: dict | None = None
) -> list[int]:
    counts = []
    for node in cluster.nodes:
        with node.client(**(admin or {})) as client:
            counts.append(sum(1 for _ in client.scan_iter(match=pattern)))
    return counts


def test_append_only_spreads_records_over_every_master(
    cluster: LocalCluster, cc: redis.RedisCluster
) -> None:
    config = cluster.config(batch_size_rows=70)
    assert run_target(config, lines(range(1, 301), "a")).states == [{"s": 300}]
    assert run_target(config, lines(range(1, 301), "b")).states == [{"s": 300}]
    found = records(cc)
    assert sorted(found) == sorted(f":s:{n}" for n in range(1, 601))
    assert found[":s:1"] == {"id": 1, "v": "a1"}
    assert found[":s:600"] == {"id": 300, "v": "b300"}
    assert sorted(d["v"] for d in found.values()) == sorted(
        f"{tag}{i}" for tag in "ab" for i in range(1, 301)
    )
    assert cc.get(":s") == "600"
    per_master = keys_per_master(cluster)
    assert sum(per_master) == 600 and min(per_master) > 100  # 3 masters, ~200 each
    assert cc.hgetall(":s:7") == {
        "_airbyte_ab_id": "7",
        "_airbyte_emitted_at": cc.hget(":s:7", "_airbyte_emitted_at"),
        "_airbyte_data": '{"id":7,"v":"a7"}',
    }


def test_upsert_keeps_one_record_per_key(cluster: LocalCluster, cc: redis.RedisCluster) -> None:
    config = cluster.config(load_method="upsert", batch_size_rows=70)
    run_target(config, lines(range(1, 301), "a"))
    run_target(config, lines(range(151, 451), "b"))
    found = records(cc)
    expected = {f":s:{i}": {"id": i, "v": f"{'a' if i <= 150 else 'b'}{i}"} for i in range(1, 451)}
    assert found == expected
    assert min(keys_per_master(cluster)) > 100


def test_overwrite_leaves_exactly_the_new_set(
    cluster: LocalCluster, cc: redis.RedisCluster
) -> None:
    config = cluster.config(load_method="overwrite", batch_size_rows=70)
    run_target(config, lines(range(1, 301), "a"))
    run_target(config, lines(range(1, 201), "b"))
    found = records(cc)
    assert sorted(found) == sorted(f":s:{n}" for n in range(301, 501))
    assert sorted(d["v"] for d in found.values()) == sorted(f"b{i}" for i in range(1, 201))
    assert min(keys_per_master(cluster)) > 30


def test_hard_delete_and_activate_version(cluster: LocalCluster, cc: redis.RedisCluster) -> None:
    config = cluster.config(load_method="upsert", hard_delete=True)
    run_target(config, lines(range(1, 101), "a"))
    deletes = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "_sdc_deleted_at": "2024-01-02T00:00:00Z"}) for i in (3, 50)],
    )
    run_target(config, deletes)
    assert len(records(cc)) == 98 and ":s:3" not in records(cc)
    versioned = cluster.config(
        load_method="upsert",
        hard_delete=True,
        add_record_metadata=True,
        process_activate_version_messages=True,
    )
    newer = singer_lines(
        schema_msg("s", PROPS, ["id"]),
        *[record_msg("s", {"id": i, "v": f"c{i}"}, version=2) for i in range(1, 11)],
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 2},
    )
    run_target(versioned, newer)
    assert {k: d["v"] for k, d in records(cc).items()} == {f":s:{i}": f"c{i}" for i in range(1, 11)}


@pytest.mark.parametrize("cache_type", ["set", "list", "stream"])
def test_single_key_types_append_and_overwrite(
    cluster: LocalCluster, cc: redis.RedisCluster, cache_type: str
) -> None:
    append = cluster.config(cache_type=cache_type, ttl_seconds=600)
    run_target(append, lines(range(1, 4), "a"))
    overwrite = cluster.config(cache_type=cache_type, load_method="overwrite", ttl_seconds=600)
    run_target(overwrite, lines(range(1, 6), "b", stream="t"))
    run_target(overwrite, lines(range(1, 3), "c", stream="t"))
    read = {
        "set": lambda key: sorted(cc.smembers(key)),
        "list": lambda key: cc.lrange(key, 0, -1),
        "stream": lambda key: [f["_airbyte_data"] for _, f in cc.xrange(key)],
    }[cache_type]
    assert read(":s") == sorted(f'{{"id":{i},"v":"a{i}"}}' for i in range(1, 4))
    assert read(":t") == [f'{{"id":{i},"v":"c{i}"}}' for i in range(1, 3)]
    manifests = [KeySpace("", name).manifest_key for name in ("s", "t")]
    assert sorted(cc.scan_iter(match="*")) == sorted([":s", ":t", *manifests])  # no temp key
    assert 0 < cc.ttl(":t") <= 600


@pytest.mark.parametrize("namespace", ["", "{shop}"])
def test_manifest_shares_the_stream_key_slot_and_guards_conversions(
    cluster: LocalCluster, cc: redis.RedisCluster, namespace: str
) -> None:
    upsert = cluster.config(namespace=namespace, load_method="upsert")
    run_target(upsert, lines(range(1, 301), "a"))
    space = KeySpace(namespace, "s")
    assert cc.keyslot(space.manifest_key) == cc.keyslot(space.key)
    assert cc.hget(space.manifest_key, "keys") == "primary-key"
    with pytest.raises(TargetRedisError, match="holds hash records keyed by primary key"):
        run_target(cluster.config(namespace=namespace), lines(range(1, 3), "x"))
    # Rows 1-100 deleted at the source: an overwrite keeps the key scheme, on every node.
    run_target(
        cluster.config(namespace=namespace, load_method="overwrite"), lines(range(101, 301), "b")
    )
    assert sorted(records(cc, f"{space.key}:*")) == sorted(
        space.record_key(i) for i in range(101, 301)
    )
    # Converted to ids by overwrite, then appended to.
    to_ids = cluster.config(namespace=namespace, load_method="overwrite", overwrite_keys="ids")
    run_target(to_ids, lines(range(1, 3), "c"))
    run_target(cluster.config(namespace=namespace), lines(range(3, 4), "d"))
    assert sorted(d["v"] for d in records(cc, f"{space.key}:*").values()) == ["c1", "c2", "d3"]
    assert cc.hget(space.manifest_key, "keys") == "ids"


def test_native_shapes_on_the_cluster(cluster: LocalCluster, cc: redis.RedisCluster) -> None:
    config = cluster.config(
        streams={
            "s": {
                "record_format": "fields",
                "load_method": "upsert",
                "key_template": "user:{id}",
                "on_update": "merge",
            },
            "t": {"cache_type": "sorted_set", "score_field": "id", "key_template": "board"},
            "u": {"cache_type": "stream", "record_format": "fields"},
        }
    )
    run_target(
        config,
        lines(range(1, 301), "a")
        + lines(range(1, 4), "b", stream="t")
        + lines(range(1, 3), "c", stream="u"),
    )
    run_target(config, lines(range(1, 101), "z"))  # merge: v moves, nothing else
    keys = sorted(cc.scan_iter(match="user:*"))
    assert len(keys) == 300
    nodes = {cc.get_node_from_key(key).name for key in keys}
    assert len(nodes) == 3  # the records spread over every master
    assert cc.hgetall("user:1") == {"id": "1", "v": "z1"}
    assert cc.hgetall("user:300") == {"id": "300", "v": "a300"}
    assert cc.zrange("board", 0, -1, withscores=True) == [("1", 1.0), ("2", 2.0), ("3", 3.0)]
    assert [f["v"] for _, f in cc.xrange(":u")] == ["c1", "c2"]
    assert not [key for key in cc.scan_iter(match="*target-redis-tmp*")]
    overwrite = cluster.config(
        load_method="overwrite", record_format="fields", key_template="user:{id}"
    )
    run_target(overwrite, lines(range(1, 11), "o"))
    assert len(list(cc.scan_iter(match="user:*"))) == 10


@pytest.mark.parametrize("method", ["append-only", "overwrite"])
def test_single_key_stream_whose_name_has_a_colon(
    cluster: LocalCluster, cc: redis.RedisCluster, method: str
) -> None:
    """A list writes in MULTI/EXEC in the slot of N:S; the note to stream 'a' that
    'a:b' exists goes to another slot, outside that transaction."""
    config = cluster.config(cache_type="list", load_method=method)
    run_target(config, lines([1, 2], "a", stream="a:b"))
    assert cc.lrange(":a:b", 0, -1) == ['{"id":1,"v":"a1"}', '{"id":2,"v":"a2"}']
    assert cc.smembers(":{:a}:target-redis-extended-by:a") == {"a:b"}
    with pytest.raises(TargetRedisError, match="one name extends the other"):
        run_target(config, lines([1], "x", stream="a"))


def test_string_cache_type_upsert(cluster: LocalCluster, cc: redis.RedisCluster) -> None:
    config = cluster.config(cache_type="string", load_method="upsert", ttl_seconds=600)
    run_target(config, lines(range(1, 51), "a"))
    run_target(config, lines(range(26, 76), "b"))
    stored = {key: json.loads(cc.get(key)) for key in cc.scan_iter(match=":s:*")}
    assert stored == {
        f":s:{i}": {"id": i, "v": f"{'a' if i <= 25 else 'b'}{i}"} for i in range(1, 76)
    }
    assert 0 < cc.ttl(":s:1") <= 600


def test_key_pattern_user_on_every_node(cluster: LocalCluster, cc: redis.RedisCluster) -> None:
    rules = (
        "on >shop-pw ~shop:* +@read +@write +@keyspace +@connection +@transaction "
        "+cluster|slots +cluster|shards"
    )
    for node in cluster.nodes:
        with node.client() as client:
            client.execute_command("ACL", "SETUSER", "shop", "reset", *rules.split())
    try:
        shop = cluster.config(username="shop", password="shop-pw", namespace="shop")
        with pytest.raises(TargetRedisError, match="user 'shop' may not run"):
            TargetRedis(config={**shop, "namespace": ""})
        run_target({**shop, "cache_type": "list", "load_method": "overwrite"}, lines([1, 2], "a"))
        run_target({**shop, "load_method": "upsert"}, lines([1, 2], "a", stream="u"))
        assert cc.lrange("shop:s", 0, -1) == ['{"id":1,"v":"a1"}', '{"id":2,"v":"a2"}']
        assert cc.hget("shop:u:2", "_airbyte_data") == '{"id":2,"v":"a2"}'
        manifests = [KeySpace("shop", name).manifest_key for name in ("s", "u")]
        index = KeySpace("shop", "u").index_key  # under the namespace: the ACL allows it
        assert sorted(cc.scan_iter(match="*")) == sorted(
            ["shop:s", "shop:u", "shop:u:1", "shop:u:2", *manifests, index]
        )
        assert cc.smembers(index) == {"shop:u:1", "shop:u:2"}
    finally:
        for node in cluster.nodes:
            with node.client() as client:
                client.execute_command("ACL", "DELUSER", "shop")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"db": 2}, "a Redis Cluster has only database 0"),
        (
            {
                "tunnel_method": {
                    "tunnel_method": "SSH_PASSWORD_AUTH",
                    "tunnel_host": "bastion.invalid",
                    "tunnel_user": "u",
                    "tunnel_user_password": "secret-pw",
                }
            },
            "'cluster_mode' cannot be combined with 'tunnel_method'",
        ),
    ],
)
def test_settings_a_cluster_cannot_honour(cluster: LocalCluster, extra: dict, message: str) -> None:
    done = run_cli(cluster.config(**extra), lines([1], "a"))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0], done.stderr
    assert done.stdout == "" and "secret-pw" not in done.stderr


def test_json_without_the_module_is_refused(cluster: LocalCluster) -> None:
    with pytest.raises(TargetRedisError, match=r"needs the JSON.SET command \(the RedisJSON"):
        TargetRedis(config=cluster.config(cache_type="json"))


def test_standalone_client_pointed_at_a_cluster_node(cluster: LocalCluster) -> None:
    with pytest.raises(
        TargetRedisError, match=r"is a Redis Cluster node; set 'cluster_mode: true'"
    ):
        TargetRedis(config={**cluster.config(), "cluster_mode": False})


def test_cluster_mode_against_a_standalone_server(server: RedisServer) -> None:
    done = run_cli(server.config(cluster_mode=True), lines([1], "a"))
    assert done.returncode == 1
    assert (
        f"Redis at 127.0.0.1:{server.port} (cluster) is not a cluster node (cluster mode is "
        "not enabled); leave 'cluster_mode' off for a standalone server." in done.stderr
    )
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_password_protected_cluster() -> None:
    admin = {"password": "cluster-pw"}
    with LocalCluster(
        need_server_binary(), extra_args=["--requirepass", "cluster-pw"], admin=admin
    ) as protected:
        run = run_target(protected.config(password="cluster-pw"), lines(range(1, 31), "a"))
        assert run.states == [{"s": 30}]
        with protected.client() as client:
            assert len(records(client)) == 30
        with pytest.raises(TargetRedisError, match=r"refused the credentials \(password\)"):
            TargetRedis(config=protected.config(password="wrong"))


def redirections(cluster: LocalCluster) -> dict[str, int]:
    """ASK and MOVED replies the masters sent (INFO errorstats)."""
    counts = {"ASK": 0, "MOVED": 0}
    for node in cluster.nodes:
        with node.client() as client:
            stats = client.info("errorstats")
        for kind in counts:
            counts[kind] += int(stats.get(f"errorstat_{kind}", {}).get("count", 0))
    return counts


def reshuffle(
    cluster: LocalCluster, slots: list[int], hot: int, stop: threading.Event
) -> list[int]:
    """Move each slot to the next master, and the ``hot`` slot after every one of them
    (so it spends much of the load migrating: ASK), until ``stop``; returns
    [slot moves, keys migrated]."""
    done = [0, 0]
    while not stop.is_set():
        for slot in slots:
            for moving in (slot, hot):
                owner = cluster.owner(moving)
                target = cluster.nodes[(cluster.nodes.index(owner) + 1) % len(cluster.nodes)]
                done[1] += cluster.move_slot(moving, target, linger=0.02)
                done[0] += 1
            if stop.is_set():
                break
    return done


@pytest.mark.parametrize(
    ("method", "replicas"),
    [("append-only", 0), ("upsert", 0), pytest.param("upsert", 1, id="upsert-wait_for_replicas")],
)
def test_resharding_while_loading_loses_nothing(method: str, replicas: int) -> None:
    # With replicas, every chunk also WAITs for them: a redirected chunk is resent
    # (not handed to redis-py, which cannot WAIT on its own connections).
    with LocalCluster(need_server_binary(), replicas=replicas) as moving:
        first = stream_lines(range(1, 1501), tag="a", state_every=100)
        again = stream_lines(range(1, 1501), tag="b", state_every=100)[1:]
        # The counter's slot (hit every batch) and the slots of 300 record keys keep moving.
        slots = sorted({key_slot(f":s:{i}".encode()) for i in range(1, 301)})
        stop = threading.Event()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            moved = pool.submit(reshuffle, moving, slots, key_slot(b":s"), stop)
            time.sleep(0.2)
            run = LiveRun(
                moving.config(load_method=method, batch_size_rows=100, wait_for_replicas=replicas),
                first + again,
                chunk=100,
                pause=0.1,
            )
            code, stderr = run.finish(timeout=120)
            stop.set()
            moves, keys = moved.result()
        assert code == 0, stderr
        assert run.states[-1] == {"s": 1500}
        assert moves > 30 and keys > 30  # slots and keys really moved during the load
        redirects = redirections(moving)
        assert redirects["ASK"] > 0 and redirects["MOVED"] > 0, redirects
        with moving.client() as client:
            found = records(client)
            if method == "upsert":
                assert found == {f":s:{i}": {"id": i, "v": f"b{i}"} for i in range(1, 1501)}
            else:
                assert len(found) == 3000
                assert sorted(d["v"] for d in found.values()) == sorted(
                    f"{tag}{i}" for tag in "ab" for i in range(1, 1501)
                )
                assert client.get(":s") == "3000"


def test_tls_cluster_verifies_every_node(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "node.crt")
    cert.private_key_pem.write_to_path(tmp_path / "node.key")
    ca.cert_pem.write_to_path(tmp_path / "ca.crt")
    tls_args = [
        *("--tls-cert-file", str(tmp_path / "node.crt")),
        *("--tls-key-file", str(tmp_path / "node.key")),
        *("--tls-ca-cert-file", str(tmp_path / "ca.crt")),
        *("--tls-auth-clients", "no", "--tls-cluster", "yes"),
    ]
    admin = {"ssl": True, "ssl_ca_certs": str(tmp_path / "ca.crt")}
    with LocalCluster(need_tls_server_binary(), extra_args=tls_args, tls=True, admin=admin) as tls:
        verify = {"mode": "verify-full", "ca_certificate": ca.cert_pem.bytes().decode()}
        run = run_target(tls.config(ssl=True, ssl_mode=verify), lines(range(1, 61), "a"))
        assert run.states == [{"s": 60}]
        with tls.client() as client:
            assert len(records(client)) == 60
        assert all(keys_per_master(tls, admin=admin))  # every node was written to over TLS
        untrusted = {
            "mode": "verify-full",
            "ca_certificate": trustme.CA().cert_pem.bytes().decode(),
        }
        with pytest.raises(TargetRedisError, match=r"Cannot connect .*certificate verify failed"):
            TargetRedis(config=tls.config(ssl=True, ssl_mode=untrusted))


def test_per_node_pipelines_and_their_fallback(
    cluster: LocalCluster, cc: redis.RedisCluster
) -> None:
    client = cluster.client()
    writer = Writer(client, ServerInfo((7, 0), cluster=True))
    keys = [f"k{i}" for i in range(60)]
    assert send_to_cluster(client, [("SET", key, key) for key in keys])  # fast path
    assert [cc.get(key) for key in keys] == keys
    assert min(keys_per_master(cluster, "k*")) > 5
    assert not send_to_cluster(client, [("MSET", "a", "1")])  # unknown shape: redis-py's
    # Move k1's slot behind the client's back: MOVED, so redis-py's pipeline sends it.
    slot = key_slot(b"k1")
    owner = cluster.owner(slot)
    cluster.move_slot(slot, cluster.nodes[(cluster.nodes.index(owner) + 1) % 3])
    assert not send_to_cluster(client, [("SET", "k1", "moved")])
    writer.run([("SET", "k1", "again"), ("SET", "k2", "again")])
    assert (cc.get("k1"), cc.get("k2")) == ("again", "again")
    assert send_to_cluster(client, [("SET", "k1", "fast again")])  # slot map refreshed
    assert cc.get("k1") == "fast again"
    cc.hset("h", "f", "v")
    with pytest.raises(redis.ResponseError, match=r"^SADD h: WRONGTYPE"):
        writer.run([("SET", "k3", "x"), ("SADD", "h", "m"), ("SET", "k4", "y")])
    assert (cc.get("k3"), cc.get("k4")) == ("x", "y")  # every reply was read
    client.close()


def test_master_failover_while_loading() -> None:
    with LocalCluster(need_server_binary(), replicas=1, node_timeout_ms=1000) as ha:
        victim = ha.owner(key_slot(b":s"))  # the master holding the id counter
        survivor = next(node for node in ha.nodes if node is not victim)
        config = {
            **ha.config(load_method="upsert", batch_size_rows=100),
            "host": survivor.host,
            "port": survivor.port,
            "state_checkpoint_records": 100,
        }
        run = LiveRun(config, stream_lines(range(1, 1501), state_every=100), hold_after=700)
        run.wait_for_states(5)
        with victim.client(**ha.admin) as master:  # what was acknowledged is replicated
            assert int(master.execute_command("WAIT", 1, 10_000)) >= 1
        victim.kill()
        run.resume_input()
        code, stderr = run.finish(timeout=120)
        assert code == 0, stderr
        assert run.states[-1] == {"s": 1500}
        assert "retry" in stderr  # it did wait for the failover
        with redis.RedisCluster(survivor.host, survivor.port, decode_responses=True) as client:
            found = records(client)
            assert found == {f":s:{i}": {"id": i, "v": f"v{i}"} for i in range(1, 1501)}
            primaries = {node.port for node in client.get_primaries()}
            assert victim.port not in primaries and len(primaries) == 3  # a replica took over


def test_wait_for_replicas_on_every_master() -> None:
    with LocalCluster(need_server_binary(), replicas=1) as ha:
        config = ha.config(load_method="upsert", batch_size_rows=50, wait_for_replicas=1)
        assert run_target(config, lines(range(1, 301), "a")).states == [{"s": 300}]
        # Right away, without waiting: every record is on a replica already.
        on_replicas = []
        for replica in ha.replicas:
            with replica.client() as client:
                on_replicas += list(client.scan_iter(match=":s:*"))
        assert sorted(on_replicas) == sorted(f":s:{i}" for i in range(1, 301))
        counter_replica = ha.replicas[ha.nodes.index(ha.owner(key_slot(b":s")))]
        with counter_replica.client(single_connection_client=True) as client:
            client.execute_command("READONLY")
            assert client.get(":s") == "300"  # the id counter was waited for too
        done = run_cli({**config, "wait_for_replicas": 2}, lines([1], "b"))
        assert done.returncode == 1 and done.stdout == ""
        assert "Only 1 of 2 replicas of node 127.0.0.1:" in done.stderr
        assert "(setting 'wait_for_replicas')" in done.stderr


def test_members_values_and_expiry_per_record_across_slots(
    cluster: LocalCluster, cc: redis.RedisCluster
) -> None:
    """member_field, value_field, expire_at_field on a cluster: strings spread over slots,
    each with its own expiry; a set of one property, a delete removing its member."""
    props = {
        "id": {"type": "integer"},
        "token": {"type": "string"},
        "expires_at": {"type": ["null", "string"]},
        "_sdc_deleted_at": {"type": ["null", "string"]},
    }
    config = cluster.config(
        hard_delete=True,
        streams={
            "sessions": {
                "cache_type": "string",
                "load_method": "upsert",
                "key_template": "session:{id}",
                "value_field": "token",
                "expire_at_field": "expires_at",
            },
            "active": {"cache_type": "set", "member_field": "id", "key_template": "active"},
        },
    )
    rows = [{"id": i, "token": f"t{i}", "expires_at": "2999-01-01"} for i in range(40)]
    rows[3]["expires_at"] = "2000-01-01"
    messages = [
        schema_msg("sessions", props, ["id"]),
        schema_msg("active", props, ["id"]),
        *(record_msg(s, row) for s in ("sessions", "active") for row in rows),
        record_msg("active", {"id": 5, "token": "x", "_sdc_deleted_at": "2024-01-01T00:00:00Z"}),
    ]
    run_target(config, singer_lines(*messages))
    assert cc.get("session:7") == "t7" and cc.exists("session:3") == 0
    assert len({key_slot(f"session:{i}".encode()) for i in range(40)}) > 30
    assert all(cc.ttl(f"session:{i}") > 0 for i in range(40) if i != 3)
    assert cc.smembers("active") == {str(i) for i in range(40)} - {"5"}
