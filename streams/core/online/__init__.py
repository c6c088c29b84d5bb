"""Online change detectors whose state is plain numbers: ADWIN, DDM and EDDM.

River's algorithms, re-written so that a snapshot is data (never a pickle) and a restore can
validate every field; ``tests/core/test_plain_detectors.py`` holds them to river's results.
"""
