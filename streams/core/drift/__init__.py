"""Drift, data quality and anomalies of a model version's inputs and outputs, against a reference.

``profile`` (the reference), ``feature_window`` (one window's tallies), ``anomaly`` and
``online_drift`` (per-event scores and online mean shifts), ``statistics`` (the window tests),
``model_monitor`` (one model version) and ``monitor`` (every version, the entry of each batch).
"""
