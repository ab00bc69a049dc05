"""target-redis: a Singer target that loads into Redis (Airbyte-compatible layout)."""
