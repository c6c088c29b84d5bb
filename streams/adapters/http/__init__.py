"""HTTP adapters: the webhook alert sink."""
