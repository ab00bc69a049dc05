"""Checks before any input is read: settings, server commands, write access."""

from __future__ import annotations

import difflib
import functools
import logging
import typing as t

import redis

from target_redis import settings, stream_settings
from target_redis.access import PROBE_STREAM, check_search_commands, check_write_access
from target_redis.connection import endpoint
from target_redis.errors import REDIS_ERRORS, TargetRedisError, explain_redis_error
from target_redis.retry import Retrier
from target_redis.writer import Writer

if t.TYPE_CHECKING:
    from target_redis.connection import Connection
    from target_redis.stream_settings import StreamSettings


def check_settings(
    config: t.Mapping[str, t.Any], given: t.Iterable[str], known: t.Iterable[str]
) -> list[str]:
    """Refuse settings that cannot work together, and a setting name close to a known
    one (a typo that would change what lands); the other unknown names (other tools'
    keys, to warn about)."""
    if settings.value(config, "process_activate_version_messages") and not config.get(
        "add_record_metadata"
    ):
        msg = (
            "Setting 'process_activate_version_messages' needs 'add_record_metadata: true': "
            "records of older versions can only be told apart by their _sdc_table_version."
        )
        raise TargetRedisError(msg)
    names = list(known)
    unknown = sorted(set(given) - set(names))
    for name in unknown:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        if close:
            msg = f"Unknown setting '{name}' (did you mean '{close[0]}'?)."
            raise TargetRedisError(msg)
    return unknown


def check_fakeredis(
    connection: Connection, shapes: list[StreamSettings], config: t.Mapping[str, t.Any]
) -> None:
    """Refuse what fakeredis cannot do for a shape (JSON documents' TTLs, deletes...)."""
    if not connection.server.fakeredis:
        return
    for each in shapes:
        refusal = stream_settings.fakeredis_refusal(each, config, connection.server.label)
        if refusal is not None:
            raise refusal


def check_wait(connection: Connection, config: t.Mapping[str, t.Any]) -> None:
    """``wait_for_replicas`` needs WAIT, which some servers lack (fakeredis)."""
    if not settings.value(config, "wait_for_replicas"):
        return
    client = connection.client
    try:
        if isinstance(client, redis.Redis):
            client.execute_command("WAIT", "0", "0")
    except redis.ResponseError as exc:
        msg = (
            f"Setting 'wait_for_replicas': {connection.server.label} at "
            f"{connection.where} has no WAIT command ({exc}); set it to 0."
        )
        raise TargetRedisError(msg) from None


def check_search(
    connection: Connection, shapes: list[StreamSettings], username: str | None
) -> None:
    """``search_index`` (with ``create``) needs the search module and leave to run it."""
    if any(s.search and s.search.create and stream_settings.searchable(s) for s in shapes):
        check_search_commands(
            connection.client, connection.server, username=username, where=connection.where
        )


def check_access(
    connection: Connection,
    writer: Writer,
    shapes: list[StreamSettings],
    config: t.Mapping[str, t.Any],
) -> str:
    """Check that the user may run what each shape of load needs (once per shape);
    how it was checked, for the log."""
    how = ""
    checked: set[tuple[t.Any, ...]] = set()
    for each in shapes:
        template = stream_settings.template(each)
        record_key = None
        if template is not None and template.placeholders:
            record_key = template.render(
                dict.fromkeys(template.placeholders, PROBE_STREAM), "check"
            )
        cache = each.cache(connection.server)
        method = each.method_class
        replaces = each.format_class.field_values and method.reads_back and cache.replaces_in_place
        expires = bool(each.ttl_seconds), cache.per_record_expiry
        shape = (each.namespace, each.cache_type, each.load_method, *expires)
        if (*shape, record_key, replaces, each.merge) in checked:
            continue
        checked.add((*shape, record_key, replaces, each.merge))
        check = functools.partial(
            check_write_access,
            connection.client,
            connection.server,
            username=endpoint(config).username,
            namespace=each.namespace,
            cache=cache,
            load_method=method,
            delete_command=writer.delete_command,
            where=connection.where,
            record_key=record_key,
            replaces=replaces,
            merge=each.merge,
        )
        try:  # probes write probe keys only: safe to repeat after a dropped connection
            how = writer.retrier.call("checking write access", check)
        except REDIS_ERRORS as exc:
            msg = (
                f"Redis at {connection.where} failed during the write-access "
                f"check: {explain_redis_error(exc)}"
            )
            raise TargetRedisError(msg) from None
    return how


def log_unknown(logger: logging.Logger, unknown: list[str]) -> None:
    """One warning naming the settings nobody reads."""
    if unknown:
        logger.warning("Unknown settings ignored: %s", ", ".join(unknown))


def writer_for(connection: Connection, config: t.Mapping[str, t.Any], run_id: str) -> Writer:
    """The run's writer, with its retry and replica settings."""
    return Writer(
        connection.client,
        connection.server,
        Retrier(
            float(settings.value(config, "retry_max_seconds")),
            float(settings.value(config, "retry_backoff_max_seconds")),
        ),
        wait_replicas=settings.value(config, "wait_for_replicas"),
        wait_timeout_ms=settings.value(config, "wait_timeout_ms"),
        run_id=run_id,
    )


def check_server(
    connection: Connection,
    writer: Writer,
    shapes: list[StreamSettings],
    config: t.Mapping[str, t.Any],
    logger: logging.Logger,
) -> None:
    """Everything about the server before any input: WAIT, fakeredis's limits, write
    access for each shape of load. The connection is closed when a check fails."""
    try:
        check_wait(connection, config)
        check_fakeredis(connection, shapes, config)
        how = check_access(connection, writer, shapes, config)
        check_search(connection, shapes, endpoint(config).username)
    except BaseException:
        connection.close()
        raise
    logger.info(
        "Connected to %s at %s; write access checked (%s).",
        connection.server.label,
        connection.where,
        how,
    )
