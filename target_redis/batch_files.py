"""BATCH files: their lines, read as RECORD messages' records are (numbers with the tap's
text, lone surrogates repaired), to go through the same record path as RECORD lines.

Only local JSONL files (a path or a ``file://`` URL, plain or gzip) are read; target.py
refuses other schemes before any is opened. With ``batch_file_dirs`` only files inside
those directories are; a line longer than ``batch_size_bytes`` stops the run (an endless
line such as ``/dev/zero``'s never exhausts memory).
"""

from __future__ import annotations

import gzip
import os
import typing as t
import urllib.parse
import urllib.request

import msgspec

from target_redis.errors import BadInputError
from target_redis.reader import COLLIDING_KEYS, DECODER, lone_surrogates_repaired

COMPRESSIONS = ("none", "gzip")


class BatchLine(t.NamedTuple):
    """One record of a BATCH file, with where it came from."""

    record: dict[str, t.Any]
    colliding_keys: bool
    """Two keys of the record became one when lone surrogates were repaired."""
    where: str
    """``file <url> line <n>``, for errors."""
    text: bytes
    """The line as written (for the dead letter)."""


def local_path(url: str) -> str:
    """The file a manifest entry names (a path, or a ``file://`` URL)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.request.url2pathname(parts.path) if parts.scheme == "file" else url


def check_allowed(stream: str, url: str, dirs: t.Sequence[str] | None) -> None:
    """Refuse a file outside ``dirs`` (resolved: ``..`` and links followed)."""
    if dirs is None:
        return
    path = os.path.realpath(local_path(url))
    for folder in dirs:
        root = os.path.realpath(folder)
        if os.path.commonpath([path, root]) == root:
            return
    msg = (
        f"BATCH for stream '{stream}': file {url} is outside the directories of setting "
        "'batch_file_dirs'."
    )
    raise BadInputError(msg)


def batch_lines(
    stream: str,
    encoding: t.Mapping[str, t.Any],
    urls: list[str],
    *,
    max_line_bytes: int = 0,
) -> t.Iterator[BatchLine]:
    """Every record of the BATCH message's files, in order (``max_line_bytes`` > 0:
    a longer line stops the run)."""
    kind = encoding.get("format")
    compression = encoding.get("compression") or "none"
    if kind != "jsonl" or compression not in COMPRESSIONS:
        msg = (
            f"BATCH for stream '{stream}': encoding {kind!r} with compression "
            f"{compression!r} is not supported (jsonl, plain or gzip)."
        )
        raise BadInputError(msg)
    for url in urls:
        try:
            with (gzip.open if compression == "gzip" else open)(local_path(url), "rb") as file:
                for number, line in enumerate(_lines(file, max_line_bytes), start=1):
                    if len(line) > max_line_bytes > 0:
                        msg = (
                            f"Stream '{stream}': BATCH file {url} line {number} is longer than "
                            f"{max_line_bytes} bytes (setting 'batch_size_bytes')."
                        )
                        raise BadInputError(msg)
                    if line.strip():
                        where = f"file {url} line {number}"
                        yield BatchLine(*_record(stream, line, where), text=line, where=where)
        except OSError as exc:  # gzip.BadGzipFile too
            msg = f"BATCH for stream '{stream}': file {url} could not be read: {exc}"
            raise BadInputError(msg) from None


def _lines(file: t.Any, limit: int) -> t.Iterator[bytes]:
    """The file's lines; with ``limit``, a longer one is cut at ``limit`` + 1 bytes."""
    if not limit:
        yield from file
        return
    while line := file.readline(limit + 1):
        yield line


def _record(stream: str, line: bytes, where: str) -> tuple[dict[str, t.Any], bool]:
    record: t.Any = None
    collided = False
    try:
        record = DECODER.decode(line)
    except msgspec.DecodeError:
        repaired = lone_surrogates_repaired(line)
        if repaired is not None:
            record, collided = repaired
    except UnicodeDecodeError:
        pass
    if not isinstance(record, dict):
        msg = f"Stream '{stream}': BATCH {where} is not a JSON object."
        raise BadInputError(msg)
    return record, collided


def batch_records(
    stream: str, message: dict, dirs: t.Any, max_line_bytes: int, line_key: str
) -> t.Iterator[dict[str, t.Any]]:
    """A BATCH message's lines as RECORD messages (``line_key``: where the line came
    from); BadInputError for a message without its parts, a file that is not local or
    not under ``batch_file_dirs``."""
    manifest = message.get("manifest")
    if not isinstance(manifest, list) or not isinstance(message.get("encoding"), dict):
        msg = f"BATCH for stream '{stream}' needs an 'encoding' object and a 'manifest' list."
        raise BadInputError(msg)
    for url in manifest:
        scheme = urllib.parse.urlsplit(str(url)).scheme
        if scheme not in ("", "file") or not isinstance(url, str):
            msg = (
                f"BATCH for stream '{stream}': manifest URL scheme {scheme!r} is not "
                "supported; BATCH files must be local (a path or a file:// URL)."
            )
            raise BadInputError(msg)
    for url in manifest:
        check_allowed(stream, url, dirs)
    for line in batch_lines(stream, message["encoding"], manifest, max_line_bytes=max_line_bytes):
        record: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": line.record}
        record[line_key] = line
        if line.colliding_keys:
            record[COLLIDING_KEYS] = True
        yield record
