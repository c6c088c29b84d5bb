"""What labels say once they arrive: performance, concept drift, fairness, and label-free estimates.

``labelled`` (a prediction joined to its label), ``performance`` and ``fairness`` (window
metrics), ``concept_drift`` (the error stream), ``label_free`` (estimates from scores alone),
``ring`` (the bounded columns behind them) and ``performance_monitor`` (one model version).
"""
