"""Per-segment checks: the drift checks of one model version run per value of a segment
attribute (``segments`` in the model spec) as well as globally.

``top_k`` picks the values watched on their own (bounded memory, the rest pooled as
"other"), ``budget`` raises each detector's threshold so the segments share the global
false-alarm budget, ``segment_reference`` learns a segment's reference on the global
reference's bins, ``segment_monitors`` runs one monitor per segment, and
``segmented_model_monitor`` is the model version's monitor that feeds them.
"""

from __future__ import annotations

from streams.core.segments.budget import split_configs
from streams.core.segments.segment_monitors import SegmentMonitors
from streams.core.segments.segmented_model_monitor import SegmentedModelMonitor

__all__ = ["SegmentMonitors", "SegmentedModelMonitor", "split_configs"]
