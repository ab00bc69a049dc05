"""target-redis: a Singer target for Redis."""

__version__ = "0.3.0"
