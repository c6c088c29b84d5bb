"""Personal data in events: hashed with a secret key, or dropped, before anything keeps it.

Features and attributes marked ``pii: true`` in a model spec never reach Redis, Kafka or a
log in clear. ``PiiPolicy`` is applied where a value would be stored or emitted (the sample
tail in monitor state and alerts, reference chunks, profiles, the label join's kept
predictions, dead letters on request), and only to the PII fields of those events, so the
per-event cost stays small.

Hashing is HMAC-SHA256 under a secret key (``DRIFTLINE_PII_KEY`` / ``_KEY_FILE``, a secret
of ``Settings``, never printed). An unkeyed hash of an age, a zip code or an e-mail address
is reversed by hashing a dictionary of candidates (110k candidates reversed 45 of 45 values
in 0.1 s); without the key no candidate can be checked. A value becomes ``hmac:`` and the
first 32 hex digits (128 bits) of the MAC: enough that two distinct values of one feature
practically never share a hash (birthday bound ~2**64 values), so a profile by hash counts
the same categories as one by value, while keeping samples and the millions of kept
predictions short. Secrecy rests on the key, not on the length.

Profiles (what is watched without storing values):

- a PII categorical feature is profiled by the hashes of its values: the shares of its top
  hashes are kept, so a shift in its distribution is still caught;
- a PII numeric feature (an age) is profiled the same way, as a categorical of hashes, not on
  value bins: quantile bin edges, the range and the anomaly scorer's means are taken from raw
  values (the edges and range are observed values). A low-cardinality number (ages, years)
  keeps most of its drift signal this way; a continuous one mostly lands in "other", so its
  drift shows only as a change of its missing rate. Range and Mahalanobis checks skip it.

``drop`` mode removes PII values instead: PII features are not watched at all (nothing to
profile), PII attributes are not kept, so a fairness policy on one is never judged. A
policy in ``hash`` mode without a key behaves as ``drop`` (the worker refuses to start that
way; a PII spec that arrives later, while it runs, is handled so rather than crash it).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import lru_cache
from hashlib import sha256
from typing import Any, Literal, cast

from streams.core.contract.columns import category_of
from streams.core.contract.event import PredictionEvent
from streams.core.contract.spec import ModelSpec

__all__ = [
    "HASH_HEX_DIGITS",
    "MIN_KEY_BYTES",
    "PiiMode",
    "PiiPolicy",
    "has_pii",
    "pii_attributes_by_model",
    "require_key_for",
]

PiiMode = Literal["hash", "drop"]
#: 32 hex digits: 128 bits of the HMAC (see the module docstring).
HASH_HEX_DIGITS = 32
#: A shorter key could be guessed; 16 random bytes is the HMAC-SHA256 minimum we accept.
MIN_KEY_BYTES = 16
_PREFIX = "hmac:"
#: Distinct values whose hash is remembered (low-cardinality PII is hashed once, not per event).
_CACHE_SIZE = 65_536


def has_pii(spec: ModelSpec) -> bool:
    """Whether ``spec`` marks any feature or attribute as PII."""
    return bool(spec.pii_attributes) or any(f.pii for f in spec.features.values())


def require_key_for(specs: Iterable[ModelSpec], policy: PiiPolicy) -> None:
    """Raise ``ValueError`` (one line) if a spec has PII and ``policy`` would hash without a
    key: starting so would silently drop what the operator expects to be hashed."""
    if policy.mode == "drop" or policy.key_set:
        return
    for spec in specs:
        if has_pii(spec):
            raise ValueError(
                f"model {spec.model_id!r} has PII features or attributes and no "
                "DRIFTLINE_PII_KEY or DRIFTLINE_PII_KEY_FILE is set (or set DRIFTLINE_PII=drop)"
            )


def pii_attributes_by_model(
    events: Iterable[PredictionEvent], spec_for: Callable[[str, str], ModelSpec | None]
) -> dict[str, frozenset[str]]:
    """The PII attribute names of each model in ``events`` that has any (one spec look-up
    per model version, not per event)."""
    out: dict[str, frozenset[str]] = {}
    for key in dict.fromkeys((e.model_id, e.model_version) for e in events if e.attributes):
        spec = spec_for(*key)
        if spec is not None and spec.pii_attributes:
            out[key[0]] = out.get(key[0], frozenset()) | spec.pii_attributes
    return out


class PiiPolicy:
    """How PII values are redacted: keyed hash, or removal.

    Parameters
    ----------
    key
        The HMAC key (at least ``MIN_KEY_BYTES`` bytes); None means no value can be hashed.
    mode
        ``"hash"`` (the default) or ``"drop"``.

    Examples
    --------
    >>> policy = PiiPolicy(key=b"k" * 16)
    >>> policy.redact("ann@example.com") == policy.redact("ann@example.com")
    True
    >>> policy.redact("ann@example.com") == PiiPolicy(key=b"j" * 16).redact("ann@example.com")
    False
    >>> PiiPolicy(mode="drop").redact("ann@example.com") is None
    True
    """

    __slots__ = ("_hash", "key_set", "mode")

    def __init__(self, *, key: bytes | None = None, mode: PiiMode = "hash") -> None:
        if mode not in ("hash", "drop"):
            raise ValueError(f"PII mode must be 'hash' or 'drop', not {mode!r}")
        if key is not None and len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the PII key must be at least {MIN_KEY_BYTES} bytes")
        self.mode = mode
        self.key_set = key is not None
        self._hash = _hasher(key) if key is not None and mode == "hash" else None

    def __repr__(self) -> str:  # never the key
        return f"PiiPolicy(mode={self.mode!r}, key_set={self.key_set})"

    @property
    def hashes(self) -> bool:
        """True when PII values are replaced by their keyed hash; False: they are removed."""
        return self._hash is not None

    def redact(self, value: object) -> str | None:
        """The keyed hash of ``value`` (of its category text), or None when dropping.

        A missing value (None) stays None: that a value is missing is not personal data.
        """
        if value is None or self._hash is None:
            return None
        return self._hash(cast(str, category_of(value)))  # a value's category is a text

    def redact_column(self, values: list[str | None]) -> list[str | None]:
        """``redact`` over a column of category texts."""
        if self._hash is None:
            return [None] * len(values)
        hashed = self._hash
        return [None if v is None else hashed(v) for v in values]

    def redact_fields(self, values: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
        """A copy of ``values`` with fields ``names`` hashed, or removed when dropping."""
        out = dict(values)
        for name in names:
            if name in out:
                if self._hash is None:
                    del out[name]
                else:
                    out[name] = self.redact(out[name])
        return out

    def redact_event(self, event: Mapping[str, Any], spec: ModelSpec) -> dict[str, Any]:
        """A copy of a raw event object (as decoded from JSON, possibly invalid) with the
        PII features and attributes of ``spec`` redacted; other fields untouched."""
        out = dict(event)
        features, attributes = out.get("features"), out.get("attributes")
        if isinstance(features, dict):
            names = [n for n, f in spec.features.items() if f.pii]
            out["features"] = self.redact_fields(features, names)
        if isinstance(attributes, dict):
            out["attributes"] = self.redact_fields(attributes, spec.pii_attributes)
        return out

    def fairness_view(self, spec: ModelSpec) -> ModelSpec:
        """``spec`` as the performance monitor must see it once PII attributes are hashed:
        a fairness policy on a PII attribute names its reference group by the group's hash."""
        pii = spec.pii_attributes
        if not pii or not any(p.attribute in pii for p in spec.fairness):
            return spec
        policies = tuple(
            replace(p, reference_group=self.redact(p.reference_group) or p.reference_group)
            if p.attribute in pii else p
            for p in spec.fairness
        )  # fmt: skip
        return replace(spec, fairness=policies)


def _hasher(key: bytes) -> Callable[[str], str]:
    # The cache holds values in process memory only (never stored), so a zip code seen a
    # million times is hashed once. HMAC's inner/outer pads are computed once per key.
    base = hmac.new(key, digestmod=sha256)

    @lru_cache(maxsize=_CACHE_SIZE)
    def hashed(text: str) -> str:
        mac = base.copy()
        mac.update(text.encode())
        return _PREFIX + mac.hexdigest()[:HASH_HEX_DIGITS]

    return hashed
