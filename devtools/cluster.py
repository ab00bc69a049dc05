"""A throwaway local Redis Cluster (masters only) for tests and benchmarks, and the
slot migration a resharding does, step by step as ``redis-cli --cluster reshard`` does it.
"""

from __future__ import annotations

import time
import typing as t

import redis

from devtools.server import RedisServer, free_cluster_port

SLOTS = 16384


class LocalCluster:
    """``masters`` redis-server processes with ``cluster-enabled yes``, the slots split
    evenly between them, every node aware of every other; optionally ``replicas`` per
    master (``self.replicas``), for failovers."""

    def __init__(
        self,
        binary: str,
        masters: int = 3,
        extra_args: t.Sequence[str] = (),
        *,
        replicas: int = 0,
        node_timeout_ms: int = 5000,
        tls: bool = False,
        admin: t.Mapping[str, t.Any] | None = None,
    ) -> None:
        """Start the nodes, assign slots, join them and wait for ``cluster_state:ok``.
        ``admin``: client settings for talking to the nodes (password, TLS files)."""
        self.nodes: list[RedisServer] = []  # the masters, in slot order
        self.replicas: list[RedisServer] = []
        self.admin = dict(admin or {})
        args = [
            *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
            *("--cluster-node-timeout", str(node_timeout_ms)),
            *("--repl-diskless-sync-delay", "0"),  # replicas sync at once (default: 5 s)
            *extra_args,
        ]
        try:
            for _ in range(masters):
                self.nodes.append(RedisServer(binary, args, port=free_cluster_port(), tls=tls))
            for _ in range(masters * replicas):
                self.replicas.append(RedisServer(binary, args, port=free_cluster_port(), tls=tls))
            self._form()
        except BaseException:
            self.stop()
            raise
        self.host = self.nodes[0].host
        self.port = self.nodes[0].port
        self.version = self.nodes[0].version

    def _form(self) -> None:
        step = SLOTS // len(self.nodes)
        for index, node in enumerate(self.nodes):
            first = index * step
            last = SLOTS - 1 if index == len(self.nodes) - 1 else first + step - 1
            with self._admin(node) as c:
                c.execute_command("CLUSTER", "SET-CONFIG-EPOCH", index + 1)
                c.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
        with self._admin(self.nodes[0]) as first_node:
            for node in self.nodes[1:] + self.replicas:
                first_node.execute_command("CLUSTER", "MEET", node.host, node.port)
        self.wait_ok()
        for index, replica in enumerate(self.replicas):
            self._replicate(replica, self.nodes[index % len(self.nodes)])

    def _replicate(self, replica: RedisServer, master: RedisServer, timeout: float = 30) -> None:
        master_id = self.node_id(master)
        deadline = time.monotonic() + timeout
        with self._admin(replica) as c:
            while True:
                try:
                    c.execute_command("CLUSTER", "REPLICATE", master_id)
                    break
                except redis.ResponseError:  # does not know the master yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            while c.info("replication").get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    msg = f"replica {replica.port} did not sync with {master.port}"
                    raise RuntimeError(msg)
                time.sleep(0.05)

    def wait_ok(self, timeout: float = 30) -> None:
        """Until every node reports the cluster ok and knows every node and slot owner."""
        deadline = time.monotonic() + timeout
        while not all(self._agrees(node) for node in self.nodes + self.replicas):
            if time.monotonic() > deadline:
                msg = "local cluster did not reach cluster_state:ok"
                raise RuntimeError(msg)
            time.sleep(0.05)

    def _agrees(self, node: RedisServer) -> bool:
        with self._admin(node) as c:
            info = c.execute_command("CLUSTER", "INFO")
            if isinstance(info, str):
                info = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
            if info.get("cluster_state") != "ok":
                return False
            if int(info.get("cluster_known_nodes", 0)) != len(self.nodes) + len(self.replicas):
                return False
            owners = {n.port for n in self.nodes}
            seen = {int(entry[2][1]) for entry in c.execute_command("CLUSTER", "SLOTS")}
            return seen == owners

    def client(self, **kwargs: t.Any) -> redis.RedisCluster:
        """A cluster client (decoding replies to str) from the first node."""
        return redis.RedisCluster(
            host=self.host, port=self.port, decode_responses=True, **{**self.admin, **kwargs}
        )

    def config(self, **settings: t.Any) -> dict[str, t.Any]:
        """Target settings pointing at this cluster."""
        return {"host": self.host, "port": self.port, "cluster_mode": True, **settings}

    def node_id(self, node: RedisServer) -> str:
        """The node's cluster id."""
        with self._admin(node) as c:
            return str(c.execute_command("CLUSTER", "MYID"))

    def owner(self, slot: int, timeout: float = 2.0) -> RedisServer:
        """The node that serves ``slot`` now: the one master whose own view says so (a
        node's view of the others can lag behind, and SETSLOT MIGRATING then fails).
        While the views disagree for longer than ``timeout``, most nodes' view wins
        (move_slot then makes every node agree)."""
        deadline = time.monotonic() + timeout
        while True:
            owners = [node for node in self.nodes if self._owns(node, slot)]
            if len(owners) == 1:
                return owners[0]
            if time.monotonic() > deadline:
                alive = [node for node in self.nodes if node.process.poll() is None]
                views = [view for view in (self._view(node, slot) for node in alive) if view]
                port = max(set(views), key=views.count) if views else alive[0].port
                return next(node for node in alive if node.port == port)
            time.sleep(0.02)  # the nodes' configurations are settling

    def _assign(self, slot: int, owner: RedisServer) -> None:
        """Make every node agree that ``owner`` serves ``slot`` (the owner first: it bumps
        its config epoch, so its claim wins over stale ones)."""
        owner_id = self.node_id(owner)
        for node in [owner, *(n for n in self.nodes if n is not owner)]:
            with self._admin(node) as c:
                c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", owner_id)

    def _owns(self, node: RedisServer, slot: int) -> bool:
        return node.process.poll() is None and self._view(node, slot) == node.port

    def _view(self, node: RedisServer, slot: int) -> int | None:
        """The port of the master that ``node`` says serves ``slot``."""
        with self._admin(node) as c:
            for first, last, (_, port, *_rest), *_ in c.execute_command("CLUSTER", "SLOTS"):
                if int(first) <= slot <= int(last):
                    return int(port)
        return None

    def move_slot(
        self, slot: int, target: RedisServer, keys_per_step: int = 100, linger: float = 0.0
    ) -> int:
        """Migrate ``slot`` and its keys to ``target`` (IMPORTING / MIGRATING, MIGRATE,
        SETSLOT NODE everywhere); clients see ASK (while migrating, ``linger`` seconds
        or more) and then MOVED. Returns keys moved."""
        source = self.owner(slot)
        if source is target:
            return 0
        source_id, target_id = self.node_id(source), self.node_id(target)
        moved = 0
        with self._admin(source) as src, self._admin(target) as dst:
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            try:
                src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            except redis.ResponseError as exc:
                if "owner" not in str(exc):
                    raise
                # The source's own view disagrees with the others': settle it, retry.
                dst.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
                self._assign(slot, source)
                dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
                src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while True:
                keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, keys_per_step)
                if not keys:
                    break
                src.execute_command("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
                moved += len(keys)
            time.sleep(linger)  # keys are on the target now, the slot still migrating
            dst.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        for node in self.nodes:
            if node not in (source, target):
                with self._admin(node) as c:
                    c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return moved

    def _admin(self, node: RedisServer) -> redis.Redis:
        return node.client(**self.admin)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes + self.replicas:
            node.stop()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
