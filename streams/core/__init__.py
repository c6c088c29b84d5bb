"""Driftline's pure core: event contracts, validation and (later) detectors.

Imports only the standard library, numpy, river and orjson; no Kafka, Redis or Faust, so the
same code runs under the Faust worker, in ``driftline replay`` and in unit tests.
"""

from streams.core.decoder import EventDecoder, LabelDecoder
from streams.core.errors import (
    DriftlineError,
    InvalidEvent,
    InvalidSpec,
    InvalidState,
    PublishFailed,
    Reason,
    StoreUnavailable,
)
from streams.core.event import LabelEvent, PredictionEvent, RawRecord
from streams.core.ingestor import Ingestor, IngestResult, Rejection
from streams.core.registry import SpecRegistry, UnknownModelPolicy
from streams.core.spec import FeatureSpec, ModelSpec
from streams.core.spec_inference import SpecInference

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
