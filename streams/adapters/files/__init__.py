"""Files: embedded replay of a JSONL stream, model specs from JSON files, reference profiles
from training data."""
