"""Which models Driftline knows, and the spec each one's events are checked against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from streams.core.contract.event import FeatureShape, PredictionEvent
from streams.core.contract.spec import ModelSpec
from streams.core.contract.spec_inference import SpecInference
from streams.core.contract.version_slots import VersionSlots
from streams.core.errors import InvalidEvent, Reason

__all__ = ["SpecRegistry", "UnknownModelPolicy"]

UnknownModelPolicy = Literal["auto", "reject"]


class SpecRegistry:
    """Model specs by (model id, version), with a policy for models nobody registered.

    A model nobody registered takes a warm-up slot while its spec is learned. Slots are
    capped (``max_models``, counting registered models too) and expire: a warm-up that has
    not completed ``warmup_timeout_s`` after it started (wall-clock time, given by the caller
    through ``advance``) is dropped and its slot freed, so one-event model ids cannot lock
    out real models. Processing time, not event time, because a slot is a resource held in
    real time and event timestamps are whatever the producer wrote. The slots of other
    workers come in through ``share`` (the adapter keeps them in Redis), and the slots this
    registry took or gave up since the last call go out through ``take_slot_changes``.

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
    warmup_timeout_s
        How long a warm-up may hold its slot without completing.
    max_versions_per_model, version_idle_s
        Watched versions per model, and how long one must be unseen before a new version
        may retire it (``VersionSlots``).
    """

    def __init__(
        self,
        specs: Iterable[ModelSpec] = (),
        *,
        unknown_models: UnknownModelPolicy = "auto",
        warmup_events: int = 200,
        max_models: int = 100,
        warmup_timeout_s: float = 600.0,
        max_versions_per_model: int = 10,
        version_idle_s: float = 300.0,
    ) -> None:
        if unknown_models not in ("auto", "reject"):
            raise ValueError(f"unknown_models must be 'auto' or 'reject', got {unknown_models!r}")
        if warmup_events < 1 or max_models < 1 or warmup_timeout_s <= 0:
            raise ValueError("warmup_events, max_models and warmup_timeout_s must be positive")
        self.unknown_models = unknown_models
        self.warmup_events = warmup_events
        self.max_models = max_models
        self.warmup_timeout_s = warmup_timeout_s
        self.versions = VersionSlots(per_model=max_versions_per_model, idle_s=version_idle_s)
        self.now = 0.0
        self._specs: dict[tuple[str, str | None], ModelSpec] = {}
        self._registered: set[str] = set()
        self._warmups: dict[str, _Warmup] = {}
        # Warm-up slots held anywhere (this worker's and other workers'): model -> start.
        self._warming: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._finished: list[str] = []
        self._inferred: list[ModelSpec] = []
        for spec in specs:
            self.register(spec)

    def register(self, spec: ModelSpec) -> None:
        """Add or replace a spec; a registered spec ends the model's warm-up."""
        self._specs[spec.model_id, spec.model_version] = spec
        self._registered.add(spec.model_id)
        if self._warmups.pop(spec.model_id, None) is not None:
            self._finished.append(spec.model_id)
        self._started.pop(spec.model_id, None)
        self._warming.pop(spec.model_id, None)

    @property
    def model_count(self) -> int:
        """Models registered or warming up (here or, as last shared, on other workers)."""
        return len(self._registered) + len(self._warming)

    @property
    def warmup_room(self) -> int:
        """Warm-up slots the cap leaves beside the registered models."""
        return max(self.max_models - len(self._registered), 0)

    def knows(self, model_id: str) -> bool:
        """Whether the model is registered or warming up here (a bounded set)."""
        return model_id in self._registered or model_id in self._warmups

    def spec_for(self, model_id: str, model_version: str) -> ModelSpec | None:
        """The version's own spec, else the model's, else None."""
        specs = self._specs
        return specs.get((model_id, model_version)) or specs.get((model_id, None))

    def check(
        self, event: PredictionEvent, message_bytes: int, shape: FeatureShape | None = None
    ) -> None:
        """Raise ``InvalidEvent`` unless ``event`` may be applied to the model's state
        (``shape``: its feature shape, if the caller has it)."""
        spec = self.spec_for(event.model_id, event.model_version)
        if spec is not None:
            spec.check(event, message_bytes, shape)
            self.versions.admit(event.model_id, event.model_version, now=self.now)
            return
        warmup = self._warmups.get(event.model_id) or self._start_warmup(event.model_id)
        self.versions.admit(event.model_id, event.model_version, now=self.now)
        warmup.inference.observe(event)
        if warmup.inference.done:
            inferred = warmup.inference.spec()
            self.register(inferred)
            self._inferred.append(inferred)

    def take_inferred(self) -> list[ModelSpec]:
        """Specs inferred since the last call, for the caller to persist."""
        inferred, self._inferred = self._inferred, []
        return inferred

    def take_retired(self) -> list[tuple[str, str]]:
        """Model versions retired to make room for new ones since the last call."""
        return self.versions.take_retired()

    def advance(self, now: float) -> list[str]:
        """Set the clock (seconds, once per batch) and free the warm-ups that timed out.

        Returns the models whose warm-up this registry dropped.
        """
        self.now = now
        deadline = now - self.warmup_timeout_s
        expired = [m for m, w in self._warmups.items() if w.started <= deadline]
        for model_id in expired:
            self._drop_warmup(model_id)
        for model_id in [m for m, started in self._warming.items() if started <= deadline]:
            del self._warming[model_id]
        return expired

    def share(self, warming: dict[str, float]) -> None:
        """Take the warm-up slots held across workers (model -> start), as last stored."""
        shared = {m: t for m, t in warming.items() if m not in self._registered}
        for model_id, warmup in self._warmups.items():
            shared.setdefault(model_id, warmup.started)
        self._warming = shared

    def take_slot_changes(self) -> tuple[dict[str, float], list[str]]:
        """Warm-up slots taken (model -> start) and given up since the last call."""
        started, self._started = self._started, {}
        finished, self._finished = self._finished, []
        return started, finished

    def refuse(self, model_ids: Iterable[str]) -> None:
        """Give up warm-ups the shared cap had no room for (another worker took the slots)."""
        for model_id in model_ids:
            if model_id in self._warmups:
                # Never held in the shared store: there is no slot to give back.
                self._drop_warmup(model_id, give_back=False)

    def _drop_warmup(self, model_id: str, *, give_back: bool = True) -> None:
        del self._warmups[model_id]
        self._warming.pop(model_id, None)
        self._started.pop(model_id, None)
        if give_back:
            self._finished.append(model_id)
        self.versions.forget(model_id)

    def _start_warmup(self, model_id: str) -> _Warmup:
        if self.unknown_models == "reject":
            raise InvalidEvent(
                Reason.UNKNOWN_MODEL,
                "no spec is registered for this model and version",
                field="model_id",
            )
        if model_id not in self._warming and self.model_count >= self.max_models:
            raise InvalidEvent(
                Reason.MODEL_LIMIT,
                f"already watching the limit of {self.max_models} models",
                field="model_id",
            )
        started = self._warming.get(model_id, self.now)
        warmup = self._warmups[model_id] = _Warmup(
            SpecInference(model_id, events_needed=self.warmup_events), started
        )
        self._warming[model_id] = started
        self._started[model_id] = started
        return warmup


@dataclass(slots=True)
class _Warmup:
    """A model's warm-up and when its slot was taken (the registry's clock)."""

    inference: SpecInference
    started: float
