"""Drift, data quality and anomalies of a model version's inputs and outputs, against a reference.

``profile`` (the reference), ``anomaly`` (per-event scores), ``statistics`` (the window
tests), ``detector_set`` (a version's detectors from ``streams.core.detectors``, by column),
``model_monitor`` (one model version), ``monitor`` (every version, the entry of each batch),
``outcome`` (what a batch did) and ``legacy_state`` (stored state of an older version).
"""
