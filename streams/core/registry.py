"""Which models Driftline knows, and the spec each one's events are checked against."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from streams.core.errors import InvalidEvent, Reason
from streams.core.event import PredictionEvent
from streams.core.spec import ModelSpec
from streams.core.spec_inference import SpecInference

__all__ = ["SpecRegistry", "UnknownModelPolicy"]

UnknownModelPolicy = Literal["auto", "reject"]


class SpecRegistry:
    """Model specs by (model id, version), with a policy for models nobody registered.

    Parameters
    ----------
    specs
        Specs known up front.
    unknown_models
        ``"auto"`` registers an unknown model with a spec inferred from its first
        ``warmup_events`` events (accepted while they are watched); ``"reject"`` dead-letters
        events of unregistered models.
    warmup_events
        Size of the warm-up window for ``"auto"``.
    max_models
        Models known or warming up at once; events of more are rejected, so state and metric
        label sets stay bounded.
    """

    def __init__(
        self,
        specs: Iterable[ModelSpec] = (),
        *,
        unknown_models: UnknownModelPolicy = "auto",
        warmup_events: int = 200,
        max_models: int = 100,
    ) -> None:
        if unknown_models not in ("auto", "reject"):
            raise ValueError(f"unknown_models must be 'auto' or 'reject', got {unknown_models!r}")
        if warmup_events < 1 or max_models < 1:
            raise ValueError("warmup_events and max_models must be positive")
        self.unknown_models = unknown_models
        self.warmup_events = warmup_events
        self.max_models = max_models
        self._specs: dict[tuple[str, str | None], ModelSpec] = {}
        self._models: set[str] = set()
        self._warmups: dict[str, SpecInference] = {}
        self._inferred: list[ModelSpec] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: ModelSpec) -> None:
        """Add or replace a spec; a registered spec ends the model's warm-up."""
        self._specs[spec.model_id, spec.model_version] = spec
        self._models.add(spec.model_id)
        self._warmups.pop(spec.model_id, None)

    @property
    def model_count(self) -> int:
        """Models registered or warming up."""
        return len(self._models)

    def knows(self, model_id: str) -> bool:
        """Whether the model is registered or warming up (a bounded set)."""
        return model_id in self._models

    def spec_for(self, model_id: str, model_version: str) -> ModelSpec | None:
        """The version's own spec, else the model's, else None."""
        specs = self._specs
        return specs.get((model_id, model_version)) or specs.get((model_id, None))

    def check(self, event: PredictionEvent, message_bytes: int) -> None:
        """Raise ``InvalidEvent`` unless ``event`` may be applied to the model's state."""
        spec = self.spec_for(event.model_id, event.model_version)
        if spec is not None:
            spec.check(event, message_bytes)
            return
        warmup = self._warmups.get(event.model_id) or self._start_warmup(event.model_id)
        warmup.observe(event)
        if warmup.done:
            inferred = warmup.spec()
            self.register(inferred)
            self._inferred.append(inferred)

    def take_inferred(self) -> list[ModelSpec]:
        """Specs inferred since the last call, for the caller to persist."""
        inferred, self._inferred = self._inferred, []
        return inferred

    def _start_warmup(self, model_id: str) -> SpecInference:
        if self.unknown_models == "reject":
            raise InvalidEvent(
                Reason.UNKNOWN_MODEL,
                "no spec is registered for this model and version",
                field="model_id",
            )
        if len(self._models) >= self.max_models:
            raise InvalidEvent(
                Reason.MODEL_LIMIT,
                f"already watching the limit of {self.max_models} models",
                field="model_id",
            )
        self._models.add(model_id)
        warmup = self._warmups[model_id] = SpecInference(model_id, events_needed=self.warmup_events)
        return warmup
