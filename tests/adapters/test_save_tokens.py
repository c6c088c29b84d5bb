"""Which token Redis holds of a model, told apart: another worker's save since, or Redis gone
back past this worker's saves (``streams/adapters/redis/save_tokens.py``)."""

from __future__ import annotations

from streams.adapters.redis.save_tokens import SaveTokens


def test_an_earlier_save_of_this_writer_is_redis_gone_back():
    tokens = SaveTokens()
    first, second = tokens.new(), tokens.new()
    assert first != second and first.startswith(tokens.writer_id)
    tokens.wrote("m", second)
    assert tokens.went_back("m", first)
    assert not tokens.went_back("m", second), "the last save itself"
    assert not tokens.went_back("m", ""), "no save at all: gone, told apart by the caller"


def test_the_save_a_model_was_taken_over_at_is_gone_back_to_only_once_saved_here():
    tokens = SaveTokens()
    tokens.read("m", "b.5")
    # Not saved here yet: B's other saves are B's (an older one included: nothing of this
    # worker's is lost, and the state is read again).
    assert not tokens.went_back("m", "b.4") and not tokens.went_back("m", "b.6")
    tokens.wrote("m", tokens.new())
    assert tokens.went_back("m", "b.5") and tokens.went_back("m", "b.4")
    assert not tokens.went_back("m", "b.6"), "B saved since this worker read the model"
    assert not tokens.went_back("m", "c.1"), "a third worker's save"


def test_tokens_of_another_form_are_compared_whole():
    tokens = SaveTokens()
    tokens.read("m", "legacy")
    tokens.wrote("m", tokens.new())
    assert tokens.went_back("m", "legacy") and not tokens.went_back("m", "other")


def test_forgotten_models_are_read_again():
    tokens = SaveTokens()
    tokens.read("m", "b.5")
    tokens.read("n", "b.6")
    tokens.wrote("m", tokens.new())
    tokens.forget(["m"])
    assert tokens.last("m") is None and tokens.last("n") == "b.6"
    assert not tokens.went_back("m", "b.5")
    tokens.forget()
    assert tokens.last("n") is None
