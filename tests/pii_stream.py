"""A prediction stream full of personal data (e-mails, ages, zip codes, phone numbers), its
labels, and the dictionary an attacker would try against hashed values: for the PII tests."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import numpy as np

MODEL = "pii-model"
ZIPS = [f"{z:05d}" for z in range(94100, 94140)]  # 40 codes: every one in a profile's top 50
SPEC: dict[str, Any] = {
    "model_id": MODEL,
    "task": "classification",
    "features": {
        "email": {"type": "string", "pii": True},
        "age": {"type": "number", "pii": True, "min": 0, "max": 120},
        "zip": {"type": "string", "pii": True},
        "x": {"type": "number"},
    },
    "attributes": {"phone": {"pii": True}, "gender": {"pii": True}, "region": {}},
    "performance": {
        "fairness": [{"attribute": "gender", "reference_group": "female", "min_group_size": 50}]
    },
}


def email(i: int) -> str:
    # Frequent addresses (a few customers predicted again and again) reach a profile's top
    # categories; the rest are one-offs.
    return f"customer{i % 30 if i % 3 else i}.pii@example.org"


def phone(i: int) -> str:
    return f"+1-415-555-{i % 10_000:04d}"


def events(start: int, count: int, *, drift_at: int, seed: int = 5) -> list[dict[str, Any]]:
    """Events ``start`` .. ``start + count``; from ``drift_at`` on, ``x`` shifts and the zip
    codes concentrate, so drift alerts (with samples) fire on a PII feature too."""
    out = []
    for i in range(start, start + count):
        rng = np.random.default_rng((seed, i))
        drifted = i >= drift_at
        zip_code = ZIPS[int(rng.integers(0, 5 if drifted else len(ZIPS)))]
        score = float(rng.random())
        out.append({
            "event_id": f"{MODEL}-{i}",
            "model_id": MODEL,
            "model_version": "v1",
            "timestamp": f"2026-11-23T08:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i % 100:02d}0Z",
            "features": {"email": email(i), "age": int(rng.integers(18, 91)), "zip": zip_code,
                         "x": float(rng.normal(2.0 if drifted else 0.0, 1.0))},
            "prediction": int(score > 0.5),
            "score": score,
            "attributes": {"phone": phone(i), "gender": "female" if i % 2 else "male",
                           "region": "north"},
        })  # fmt: skip
    return out


def distinctive_values(evts: list[dict[str, Any]]) -> set[bytes]:
    """Raw PII that must never appear anywhere, in the forms JSON would store them: e-mails
    and phones as text, zip codes quoted, ages next to their feature name."""
    out: set[bytes] = set()
    for e in evts:
        f = e["features"]
        out |= {f["email"].encode(), e["attributes"]["phone"].encode(), f'"{f["zip"]}"'.encode()}
        out |= {f'"age":{f["age"]}'.encode(), f'"age": {f["age"]}'.encode()}
    return out


def candidates(evts: list[dict[str, Any]]) -> list[object]:
    """The attacker's dictionary: every age, every zip code, every e-mail and phone used
    (a perfect dictionary), as the values producers send."""
    values: set[object] = set(range(0, 121)) | {f"{z:05d}" for z in range(100_000)}
    for e in evts:
        values |= {e["features"]["email"], e["attributes"]["phone"], e["attributes"]["gender"]}
    return list(values)


def texts(value: object) -> set[str]:
    """Every text a hash of ``value`` was or could be taken over (repr, str, JSON)."""
    out = {repr(value), str(value)}
    if isinstance(value, int):
        out |= {repr(float(value)), str(float(value))}
    return out


HASH = re.compile(rb"(?:hmac|sha256):([0-9a-f]{16,64})")


def dictionary_attack(hashes: set[str], values: list[object], *, keys: list[bytes]) -> set:
    """The values whose hash (plain sha256, or HMAC under each of ``keys``) matches one of
    ``hashes``, compared on the hashes' own length (prefixes included)."""
    lengths = {len(h) for h in hashes}
    found = set()
    for value in values:
        for text in texts(value):
            data = text.encode()
            digests = [hashlib.sha256(data).hexdigest()]
            digests += [hmac.new(k, data, hashlib.sha256).hexdigest() for k in keys]
            if any(d[:n] in hashes for d in digests for n in lengths):
                found.add(value)
    return found
