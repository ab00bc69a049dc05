"""What a stream's load checks at its start, before writing anything: its name against
the other streams of its namespace, what its manifest says it holds, another writer's
ids, and the adoption of a key space written before target-redis recorded its keys."""

from __future__ import annotations

import typing as t

from target_redis.errors import TargetRedisError
from target_redis.ownership import claim
from target_redis.redis_reads import ISSUED
from target_redis.schemes import KEY_SCHEMES

if t.TYPE_CHECKING:
    import logging

    from target_redis.keyspace import KeySpace
    from target_redis.lease import Lease
    from target_redis.manifest import Manifest
    from target_redis.ownership import Ownership
    from target_redis.redis_reads import StreamFacts
    from target_redis.writer import Writer


def check_brace(space: KeySpace) -> None:
    """Refuse a name starting with ``{``: the target's side keys start with ``N:{``."""
    if space.stream.startswith("{"):
        msg = (
            f"Stream '{space.stream}': stream names starting with '{{' are reserved "
            f"(the target's own keys start with '{space.namespace}:{{'). Rename it "
            'with a stream map: {"stream_maps": {"<name>": {"__alias__": "<new name>"}}}.'
        )
        raise TargetRedisError(msg)


def check_name(space: KeySpace, writer: Writer, facts: StreamFacts, known: set[str]) -> None:
    """Refuse a name that extends, or is extended by, the name of a stream known in
    the namespace (``known``: this run's; or one whose manifest says so) after a ``:``;
    then count this stream among ``known``."""
    stream = space.stream
    shorter = space.extends()
    written = writer.exist_each([other.manifest_key for other in shorter])
    found = {other.stream for other, w in zip(shorter, written, strict=True) if w}
    for other in sorted((facts.extended_by | known | found) - {stream}):
        if other.startswith(stream + ":") or stream.startswith(other + ":"):
            msg = (
                f"Stream '{stream}' and stream '{other}' in namespace '{space.namespace}': "
                "one name extends the other after ':', so their keys can be the same keys. "
                "Nothing was written. Give one of them a namespace of its own (setting "
                "'streams'), or rename it with a stream map."
            )
            raise TargetRedisError(msg)
    known.add(stream)


def busy(space: KeySpace, lease: Lease, method: str) -> str:
    """The refusal while another run's overwrite holds the stream's lease."""
    return (
        f"Stream '{space.stream}' is being overwritten by another run (lease "
        f"{space.lease_key}, held by run {lease.holder} for up to {lease.seconds} s "
        f"more); this {method} would mix with it. Nothing was written. Run again when "
        "it has finished (the lease of a run that died expires by itself)."
    )


def check_other_writer(
    space: KeySpace,
    writer: Writer,
    facts: StreamFacts,
    held: Manifest | None,
    planned: Manifest,
    *,
    method: str,
    replaces: bool,
) -> None:
    """Keys by primary key share ``N:S:`` with ids: refuse when another writer took
    ids from the counter beyond those target-redis issued (its records could be
    overwritten). A manifest written before 0.3 has no such record: it starts now."""
    counter, issued = facts.counter, facts.issued
    if not KEY_SCHEMES[planned.keys].shares_id_space or held is None or counter is None:
        return
    if issued is None and not held.key_index:
        writer.run([("HSETNX", space.manifest_key, ISSUED, str(counter))])
        return
    if counter > (issued or 0) and not replaces:
        msg = (
            f"Stream '{space.stream}': another writer appended records to its key space "
            f"(its counter {space.key} is at {counter}, ids issued by target-redis: "
            f"{issued or 0}); {method} by primary key could overwrite them. Nothing "
            "was written. To convert the stream, run it once with load_method: "
            "overwrite and overwrite_keys: primary-key."
        )
        raise TargetRedisError(msg)


def adopt(
    space: KeySpace,
    held: Manifest | None,
    owner: Ownership,
    logger: logging.Logger,
    warn_once: t.Callable[..., None],
) -> None:
    """A key space written before 0.3 has no record of its keys: adopt the
    primary-key records under ``N:S:``; a key template's cannot be told apart."""
    scheme = held.scheme if held is not None else None
    if held is None or held.key_index or scheme is None or not scheme.indexed:
        return
    if scheme.shares_id_space:
        count = 0
        for _, chunk in owner.chunks(ids=False, legacy=True, counter=None):
            owner.writer.run(claim(space.index_key, chunk))
            count += len(chunk)
        logger.info(
            "Stream '%s': recorded the %d keys it holds under %s: (written before "
            "target-redis kept a record of them) in %s.",
            space.stream,
            count,
            space.key,
            space.index_key,
        )
        return
    warn_once(
        f"template-0.2:{space.stream}",
        "Stream '%s' was written with key_template %r before target-redis kept a "
        "record of the keys a stream writes: keys of that shape written before this run "
        "are left alone by overwrite, deletes and ACTIVATE_VERSION (other writers' keys "
        "can have the same shape). Remove leftovers by hand if you know they are its own.",
        space.stream,
        held.key_template,
    )


def refusal(space: KeySpace, held: Manifest, planned: Manifest, method: str) -> str:
    """Why ``method`` may not write ``planned`` next to what the stream ``held``."""
    if held.mixed_with:
        holds = f"{held.describe()} mixed with {held.mixed_with} (an overwrite that did not finish)"
    else:
        holds = held.describe()
    how = f"load_method: overwrite with cache_type: {planned.cache_type}"
    if planned.record_format != "airbyte":
        how += f", record_format: {planned.record_format}"
    scheme = KEY_SCHEMES[planned.keys]
    if scheme.takes_ids or scheme.shares_id_space:
        how += f" and overwrite_keys: {planned.keys}"
    return (
        f"Stream '{space.stream}' holds {holds} (manifest {space.manifest_key}); "
        f"load_method {method} would write {planned.describe()} next to them. "
        f"Nothing was written. To convert the stream, run it once with {how}."
    )
