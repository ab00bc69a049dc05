"""pytest fixtures for testing pipelines that load with target-redis, without a server.

Installed with the package (entry point ``pytest11``) and inert until a test asks for
a fixture; fakeredis comes with the ``testing`` extra (``pip install
target-redis[testing]``)::

    def test_users_land_by_email(target_redis_load, target_redis_fake):
        target_redis_load(["...singer lines..."], {"load_method": "upsert"})
        assert target_redis_fake.hget(":users:ada@example.com", "_airbyte_data")
"""

from __future__ import annotations

import typing as t

import pytest

if t.TYPE_CHECKING:
    import redis

    from target_redis.testing import Lines


@pytest.fixture
def target_redis_fake() -> redis.Redis:
    """A fresh, empty ``fakeredis.FakeRedis`` that decodes replies to str."""
    try:
        import fakeredis
    except ImportError:  # pragma: no cover - depends on the user's environment
        pytest.fail("target_redis_fake needs fakeredis: pip install 'target-redis[testing]'")
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def target_redis_load(
    target_redis_fake: redis.Redis,
) -> t.Callable[..., list[dict[str, t.Any]]]:
    """``load(lines, config=None)``: runs target-redis on Singer lines into
    ``target_redis_fake`` and returns the STATE values it emitted."""
    from target_redis.testing import load as run

    def load(lines: Lines, config: t.Mapping[str, t.Any] | None = None) -> list[dict[str, t.Any]]:
        return run(lines, target_redis_fake, config)

    return load
