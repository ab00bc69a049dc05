"""singer-sdk's standard target tests, each checked by reading Redis back.

Every test's input file is parsed here independently and the records each stream
should hold are compared, field by field, with what Redis holds.
"""

from __future__ import annotations

import decimal
import importlib.resources
import json
import typing as t

import pytest
import redis
from helpers import is_manifest
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.testing import get_target_test_class, target_tests
from singer_sdk.testing import target_test_streams as streams_pkg
from singer_sdk.testing.runners import TargetTestRunner
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.templates import TargetFileTestTemplate

from devtools.server import RedisServer
from target_redis.target import TargetRedis

# The SDK's test runner opens its sample files without closing them (not ours to fix).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def sample(name: str) -> list[dict]:
    text = (importlib.resources.files(streams_pkg) / f"{name}.singer").read_text("utf8")
    return [json.loads(line, parse_float=decimal.Decimal) for line in text.splitlines() if line]


def expected_records(names: t.Sequence[str], *, upsert: bool = False) -> dict[str, list[dict]]:
    """Per stream, the records the files send, in order (upsert: last per key)."""
    out: dict[str, dict[t.Any, dict]] = {}
    keys: dict[str, list[str]] = {}
    for name in names:
        for message in sample(name):
            stream = message.get("stream")
            if message["type"] == "SCHEMA":
                keys[stream] = message.get("key_properties") or []
            elif message["type"] == "RECORD":
                bucket = out.setdefault(stream, {})
                if upsert and keys[stream]:
                    pk = tuple(message["record"][k] for k in keys[stream])
                    bucket.pop(pk, None)
                else:
                    pk = len(bucket)
                bucket[pk] = message["record"]
    return {stream: list(bucket.values()) for stream, bucket in out.items()}


def stored_records(client: redis.Redis) -> dict[str, list[dict]]:
    """Per stream, the _airbyte_data of its hashes in id order; checks the layout."""
    found: dict[str, list[tuple[int, dict]]] = {}
    for key in client.scan_iter(_type="hash"):
        if is_manifest(key):
            continue
        fields = client.hgetall(key)
        assert set(fields) == {"_airbyte_ab_id", "_airbyte_emitted_at", "_airbyte_data"}
        assert key.startswith(":")
        stream = key[1:].rsplit(":", 1)[0]
        ab_id = int(fields["_airbyte_ab_id"])
        found.setdefault(stream, []).append(
            (ab_id, json.loads(fields["_airbyte_data"], parse_float=decimal.Decimal))
        )
        assert int(client.get(f":{stream}")) >= ab_id
    return {s: [data for _, data in sorted(rows, key=lambda x: x[0])] for s, rows in found.items()}


class ReadBack(TargetFileTestTemplate):
    """Validate that Redis holds exactly the records of the input file(s)."""

    upsert = False
    files: t.Sequence[str] = ()

    def validate(self) -> None:
        server: RedisServer = self.resource
        with server.client() as client:
            assert stored_records(client) == expected_records(
                self.files or [self.name], upsert=self.upsert
            )


class NothingWritten(TargetFileTestTemplate):
    def validate(self) -> None:
        server: RedisServer = self.resource
        with server.client() as client:
            assert client.keys("*") == []


def read_back(base: type, **attrs: t.Any) -> type:
    return type(base.__name__, (ReadBack, base), attrs)


class RecordMissingRequiredPropertyRejected(
    NothingWritten, target_tests.TargetRecordMissingRequiredProperty
):
    """A record missing a required property fails validation: nothing lands."""

    def test(self) -> None:
        with pytest.raises(InvalidRecord):
            self.runner.sync_all()


class InvalidSchemaRejected(NothingWritten, target_tests.TargetInvalidSchemaTest):
    pass


class RecordBeforeSchemaRejected(NothingWritten, target_tests.TargetRecordBeforeSchemaTest):
    pass


class MultipleStateMessages(ReadBack):
    """All records land and only the last STATE, after every write, is printed."""

    name = "multiple_state_messages"

    def test(self) -> None:
        self.runner.sync_all()
        assert self.runner.state_messages == [
            {"test_multiple_state_messages_a": 5, "test_multiple_state_messages_b": 6}
        ]


class UserLocationUpsert(ReadBack):
    """Upsert across two runs: one record per key, the latest winning."""

    name = "user_location_upsert_data"
    files = ("user_location_data", "user_location_upsert_data")
    upsert = True

    def test(self) -> None:
        self.runner.config["load_method"] = "upsert"
        for name in self.files:
            self.runner.input_filepath = importlib.resources.files(streams_pkg) / f"{name}.singer"
            self.runner.target_input = None
            self.runner.sync_all()


class NoPrimaryKeysAppendTwice(ReadBack):
    """Appending the same file twice keeps both copies with continuing ids."""

    name = "no_primary_keys_append"
    files = ("no_primary_keys_append", "no_primary_keys_append")

    def test(self) -> None:
        self.runner.sync_all()
        self.runner.target_input = None
        self.runner.sync_all()


SUITE = SingerTestSuite(
    kind="target",
    tests=[
        read_back(target_tests.TargetArrayData),
        read_back(target_tests.TargetCamelcaseComplexSchema),
        read_back(target_tests.TargetCamelcaseTest),
        target_tests.TargetCliPrintsTest,
        read_back(target_tests.TargetDuplicateRecords),
        read_back(target_tests.TargetEncodedStringData),
        InvalidSchemaRejected,
        read_back(target_tests.TargetNoPrimaryKeys),
        read_back(target_tests.TargetOptionalAttributes),
        read_back(target_tests.TargetPrimaryKeyUpdates),
        RecordBeforeSchemaRejected,
        read_back(target_tests.TargetRecordMissingKeyProperty, validate=NothingWritten.validate),
        RecordMissingRequiredPropertyRejected,
        read_back(target_tests.TargetRecordMissingOptionalFields),
        read_back(target_tests.TargetSchemaNoProperties),
        read_back(target_tests.TargetSchemaUpdates),
        read_back(target_tests.TargetSpecialCharsInAttributes),
        MultipleStateMessages,
        UserLocationUpsert,
        NoPrimaryKeysAppendTwice,
    ],
)

_Base = get_target_test_class(
    TargetRedis,
    config={},
    custom_suites=[SUITE],
    include_target_tests=False,
    parse_env_config=False,
)


class TestTargetRedisStandard(_Base):  # type: ignore[misc,valid-type]
    """The SDK's target tests against a real redis-server started for the session."""

    @pytest.fixture
    def resource(self, server: RedisServer) -> RedisServer:
        return server

    @pytest.fixture
    def runner(self, server: RedisServer) -> TargetTestRunner:
        return TargetTestRunner(TargetRedis, config=server.config(), parse_env_config=False)
