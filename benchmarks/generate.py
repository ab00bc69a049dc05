"""Singer input in two shapes, each with ``time_extracted`` and a STATE every 10k.

wide    12 fields, nested objects, arrays, date-times, floats (~490 B/record)
narrow  9 flat properties, every one nullable (``["null", ...]``), ~300 B/record
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import typing as t

STREAM = "orders"


def schema_message(properties: dict[str, t.Any]) -> dict[str, t.Any]:
    """The stream's SCHEMA message, keyed by ``id``."""
    return {
        "type": "SCHEMA",
        "stream": STREAM,
        "key_properties": ["id"],
        "schema": {"type": "object", "properties": properties},
    }


SCHEMA = schema_message(
    {
        "id": {"type": "integer"},
        "order_ref": {"type": "string"},
        "customer": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": ["null", "string"]},
                "tier": {"type": "string"},
            },
        },
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": ["null", "string"], "format": "date-time"},
        "amount": {"type": "number"},
        "tax_rate": {"type": "number"},
        "paid": {"type": "boolean"},
        "status": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "qty": {"type": "integer"},
                    "price": {"type": "number"},
                },
            },
        },
        "shipping": {
            "type": ["null", "object"],
            "properties": {
                "city": {"type": "string"},
                "country": {"type": "string"},
                "geo": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                },
            },
        },
        "note": {"type": ["null", "string"]},
    }
)
CITIES = [("Lisboa", "PT"), ("Zürich", "CH"), ("Kraków", "PL"), ("Oslo", "NO"), ("東京", "JP")]
STATUSES = ["new", "paid", "shipped", "delivered", "returned"]


def record(i: int, rng: random.Random) -> dict[str, t.Any]:
    """One order; deterministic for a given rng state."""
    created = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        seconds=i * 37
    )
    city, country = CITIES[i % len(CITIES)]
    return {
        "id": i,
        "order_ref": f"ORD-{i:08d}-{rng.randrange(16**6):06x}",
        "customer": {
            "name": f"Customer {rng.randrange(100000)}",
            "email": f"c{i}@example.com" if i % 7 else None,
            "tier": rng.choice(["gold", "silver", "bronze"]),
        },
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": (created + datetime.timedelta(hours=3)).isoformat() if i % 3 else None,
        "amount": round(rng.uniform(1, 5000), 2),
        "tax_rate": round(rng.uniform(0, 0.25), 4),
        "paid": bool(i % 2),
        "status": STATUSES[i % len(STATUSES)],
        "items": [
            {
                "sku": f"SKU-{rng.randrange(9999):04d}",
                "qty": rng.randrange(1, 5),
                "price": round(rng.uniform(1, 500), 2),
            }
            for _ in range(1 + i % 2)
        ],
        "shipping": {
            "city": city,
            "country": country,
            "geo": {"lat": round(rng.uniform(-90, 90), 6), "lon": round(rng.uniform(-180, 180), 6)},
        },
        "note": "leave at the door" if i % 11 == 0 else None,
    }


NARROW_SCHEMA = schema_message(
    {
        "id": {"type": ["null", "integer"]},
        "email": {"type": ["null", "string"]},
        "full_name": {"type": ["null", "string"]},
        "country_code": {"type": ["null", "string"]},
        "plan": {"type": ["null", "string"]},
        "signed_up_at": {"type": ["null", "string"], "format": "date-time"},
        "lifetime_value": {"type": ["null", "number"]},
        "active": {"type": ["null", "boolean"]},
        "referrer": {"type": ["null", "string"]},
    }
)
PLANS = ["free", "starter", "team", "business", "enterprise"]


def narrow_record(i: int, rng: random.Random) -> dict[str, t.Any]:
    """One flat user row (~300 B as a RECORD line); some values null."""
    signed_up = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(
        seconds=i * 53
    )
    return {
        "id": i,
        "email": f"user{i}.{rng.randrange(16**6):06x}@example.com",
        "full_name": f"User Number {rng.randrange(10**6)}",
        "country_code": CITIES[i % len(CITIES)][1],
        "plan": PLANS[i % len(PLANS)],
        "signed_up_at": signed_up.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lifetime_value": round(rng.uniform(0, 20000), 2) if i % 4 else None,
        "active": bool(i % 3),
        "referrer": f"https://ref.example.org/c/{rng.randrange(10**5)}" if i % 5 else None,
    }


SHAPES = {"wide": (SCHEMA, record), "narrow": (NARROW_SCHEMA, narrow_record)}


def write(
    out: t.TextIO, count: int, seed: int = 7, state_every: int = 10_000, shape: str = "wide"
) -> None:
    """SCHEMA, ``count`` RECORDs (time_extracted set) and a STATE every ``state_every``."""
    rng = random.Random(seed)
    schema, make = SHAPES[shape]
    out.write(json.dumps(schema) + "\n")
    extracted = "2024-06-01T12:00:00Z"
    for i in range(1, count + 1):
        message = {
            "type": "RECORD",
            "stream": STREAM,
            "record": make(i, rng),
            "time_extracted": extracted,
        }
        out.write(json.dumps(message, ensure_ascii=False) + "\n")
        if i % state_every == 0 or i == count:
            out.write(
                json.dumps({"type": "STATE", "value": {"bookmarks": {STREAM: {"id": i}}}}) + "\n"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="wide")
    args = parser.parse_args()
    write(sys.stdout, args.records, args.seed, shape=args.shape)


if __name__ == "__main__":
    main()
