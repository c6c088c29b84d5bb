"""The event contract: what a prediction or label must look like, and how records become events.

Specs (``spec``, ``spec_inference``, ``registry``, ``version_slots``), decoding and validation
(``decoder``, ``field_rules``, ``ingestor``), the validated events themselves (``event``),
their columnar form (``columns``) and how personal data is redacted before anything keeps it
(``pii``).
"""
