"""Driftline's exceptions, one root for all of them.

::

    DriftlineError
    ├── InvalidEvent        an input record breaks the event contract (carries a Reason)
    ├── InvalidSpec         a model spec is malformed
    ├── InvalidState        stored state (a snapshot, profile, reference) is malformed
    ├── StoreUnavailable    the state store (Redis) cannot be reached
    ├── PublishFailed       a record could not be written to Kafka
    └── KafkaUnavailable    Kafka cannot be reached, or refused our credentials or TLS

Adapters translate third-party errors at the boundary (``raise StoreUnavailable(...) from exc``),
so callers above them handle Driftline errors only.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "AccessRefused",
    "DriftlineError",
    "InvalidEvent",
    "InvalidSpec",
    "InvalidState",
    "KafkaUnavailable",
    "PublishFailed",
    "Reason",
    "StoreUnavailable",
]


class Reason(StrEnum):
    """Why a record was rejected: a small, stable set, safe as a Prometheus label value."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    INVALID_UTF8 = "invalid_utf8"
    NOT_JSON = "not_json"
    NON_FINITE_NUMBER = "non_finite_number"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    TOO_MANY_FEATURES = "too_many_features"
    UNKNOWN_MODEL = "unknown_model"
    MODEL_LIMIT = "model_limit"
    VERSION_LIMIT = "version_limit"
    MISSING_FEATURE = "missing_feature"
    UNKNOWN_FEATURE = "unknown_feature"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_CATEGORY = "unknown_category"
    INTERNAL_ERROR = "internal_error"


class DriftlineError(Exception):
    """Root of every error Driftline raises on purpose."""


class InvalidEvent(DriftlineError):
    """A record that breaks the event contract.

    Parameters
    ----------
    reason
        The stable reason code.
    detail
        A human-readable explanation, safe to put in a dead-letter header.
    field
        Dotted path of the offending field (``features.age``), if one is to blame.
    """

    def __init__(self, reason: Reason, detail: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        self.field = field
        super().__init__(f"{field}: {detail}" if field else detail)


class InvalidSpec(DriftlineError):
    """A model spec that cannot be used."""


class InvalidState(DriftlineError, ValueError):
    """Stored state that cannot be restored: unparsable, of another version, or malformed.

    Also a ``ValueError``, so code that validates plain data may catch either. The message
    names the field and the reason, never the stored value.
    """


class StoreUnavailable(DriftlineError):
    """The state store did not answer."""


class PublishFailed(DriftlineError):
    """A record could not be published to Kafka."""


class KafkaUnavailable(DriftlineError):
    """Kafka did not answer, or refused the client's SASL credentials or TLS handshake."""


class AccessRefused(DriftlineError):
    """Kafka or Redis refuses something only an operator can grant (an ACL); the message
    says what to grant."""
