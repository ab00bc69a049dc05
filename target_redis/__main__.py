"""``python -m target_redis``."""

from target_redis.target import TargetRedis

TargetRedis.cli()
