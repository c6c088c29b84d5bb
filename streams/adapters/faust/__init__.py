"""The Faust worker: the app and its topics, the chunked consumer, the ingestion and label
services each batch goes through, and the HTTP surface (health, progress, routes)."""
