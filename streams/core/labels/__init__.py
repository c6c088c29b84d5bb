"""What labels say once they arrive: performance, concept drift, fairness, and label-free estimates.

``labelled`` (a prediction joined to its label), ``performance`` and ``fairness`` (window
metrics), ``concept_drift`` (the error stream), ``label_free`` (estimates from scores alone),
``ring`` (the bounded columns behind them), ``performance_monitor`` (one model version, its
judgements typed by ``performance_verdict``, its requests by ``retraining``) and
``performance_monitors`` (every model version: what the worker and replay feed).
"""
