"""Every key scheme by the name manifests record (``keys``)."""

from __future__ import annotations

from target_redis.collection_schemes import Groups, IndexedGroups, SingleKey
from target_redis.key_schemes import Ids, KeyScheme, PrimaryKey, Template

KEY_SCHEMES: dict[str, type[KeyScheme]] = {
    cls.name: cls for cls in (Ids, PrimaryKey, Template, SingleKey, Groups, IndexedGroups)
}
"""Every key scheme by the name manifests record."""
