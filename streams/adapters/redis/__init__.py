"""Redis: monitor state with its applied offsets, the label join, specs, warm-up slots,
quarantine of malformed state, and the ACL user all of it needs."""
