"""``driftline report``: a self-contained HTML page per model version, from a replay.

``runner`` replays the file through the same core as ``driftline replay`` with a
``recorder`` watching each batch; ``page_model`` turns what it saw into plain data;
``charts`` and ``render`` draw it (Plotly, inlined: the page opens offline). Only the last
two need the ``report`` extra.

``--from-redis``: ``live_source`` restores one model version's monitors from what its worker
stored (reading only), ``live`` turns their open window into plain data, and ``render``
draws that page too.
"""
