"""Driftline's pure core: the event contract, detectors, drift and label monitors, alerts.

Imports only the standard library, numpy, river and orjson; no Kafka, Redis or Faust, so the
same code runs under the Faust worker, in ``driftline replay`` and in unit tests. Grouped by
what it is about: ``contract/``, ``detectors/``, ``drift/``, ``online/``, ``labels/``,
``alerts/`` (``docs/ARCHITECTURE.md`` has the map).
"""

from streams.core.contract.decoder import EventDecoder, LabelDecoder
from streams.core.contract.event import LabelEvent, PredictionEvent, RawRecord
from streams.core.contract.ingestor import Ingestor, IngestResult, Rejection
from streams.core.contract.registry import SpecRegistry, UnknownModelPolicy
from streams.core.contract.spec import FeatureSpec, ModelSpec
from streams.core.contract.spec_inference import SpecInference
from streams.core.errors import (
    DriftlineError,
    InvalidEvent,
    InvalidSpec,
    InvalidState,
    PublishFailed,
    Reason,
    StoreUnavailable,
)

__all__ = [
    "DriftlineError",
    "EventDecoder",
    "FeatureSpec",
    "IngestResult",
    "Ingestor",
    "InvalidEvent",
    "InvalidSpec",
    "InvalidState",
    "LabelDecoder",
    "LabelEvent",
    "ModelSpec",
    "PredictionEvent",
    "PublishFailed",
    "RawRecord",
    "Reason",
    "Rejection",
    "SpecInference",
    "SpecRegistry",
    "StoreUnavailable",
    "UnknownModelPolicy",
]
