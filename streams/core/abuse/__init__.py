"""Adversarial probing and abuse: patterns across one source's events, in bounded memory.

``streams/core/online/space_saving.py`` (the heavy hitters of a window and each one's
counts, shared with the segments' choice of values), ``fingerprint``
(quantised feature vectors and their all-but-one/two keys), ``tail_bounds`` (Chernoff
bounds on binomial and Poisson tails), ``source_verdict`` (one source's patterns judged
against the rest of the population) and ``abuse_tracker`` (one model version: windows,
the false-alarm budget and the ``adversarial`` alerts).
"""
