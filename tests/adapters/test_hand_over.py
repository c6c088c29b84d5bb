"""How the batch consumer hands a fetched chunk to its agent's channel.

A rebalance clears the channels, cancelling a put that waits for room; that must read as
"not handed over", never as the fetcher itself being cancelled (a worker crashed on it).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest

from streams.adapters.faust.batch_consumer import _BatchConsumer, _full


def hand_over(put_of, *, suspend_after_s: float | None = None, stop_after_s: float | None = None):
    """Run ``_handed_over`` on a consumer reduced to the two events it watches."""

    async def run() -> tuple[bool, asyncio.Queue]:
        consumer = SimpleNamespace(suspend_flow=asyncio.Event(), _stopped=asyncio.Event())
        queue: asyncio.Queue = asyncio.Queue(maxsize=1)
        loop = asyncio.get_running_loop()
        if suspend_after_s is not None:
            loop.call_later(suspend_after_s, consumer.suspend_flow.set)
        if stop_after_s is not None:
            loop.call_later(stop_after_s, consumer._stopped.set)
        handed = await _BatchConsumer._handed_over(consumer, put_of(queue))  # type: ignore[arg-type]
        return handed, queue

    return asyncio.run(run())


def test_a_put_that_goes_in_is_handed_over():
    handed, queue = hand_over(lambda q: q.put("chunk"))
    assert handed and queue.get_nowait() == "chunk"


def test_a_put_cancelled_by_a_cleared_channel_is_not_handed_over_and_raises_nothing():
    async def cancelled_put(queue: asyncio.Queue) -> None:
        await queue.put("earlier")
        waiting = asyncio.ensure_future(queue.put("chunk"))  # no room: it waits
        asyncio.get_running_loop().call_later(0.01, waiting.cancel)  # as a clear() does
        await waiting

    handed, queue = hand_over(cancelled_put)
    assert not handed
    assert queue.qsize() == 1


@pytest.mark.parametrize("event", ["suspend", "stop"])
def test_a_suspended_flow_or_a_stop_gives_up_a_waiting_put(event):
    async def blocked_put(queue: asyncio.Queue) -> None:
        await queue.put("earlier")
        await queue.put("chunk")

    after = {"suspend_after_s": 0.01} if event == "suspend" else {"stop_after_s": 0.01}
    handed, queue = hand_over(blocked_put, **after)
    assert not handed
    assert queue.qsize() == 1  # the chunk never went in


def test_any_other_failure_of_the_put_is_raised():
    async def failing_put(queue: asyncio.Queue) -> None:
        raise ValueError("channel closed")

    with pytest.raises(ValueError, match="channel closed"):
        hand_over(failing_put)


def test_a_channel_is_full_when_its_agents_queue_is():
    """A put lands in the queues of the channel's subscribers (its agents' clones), never in
    the channel's own: fullness must be read there, or a full agent's put blocks the fetcher
    for every topic instead of holding that topic's chunks."""

    async def run() -> tuple[bool, bool, bool]:
        app = faust.App("test-full-channel", broker="kafka://127.0.0.1:1")
        app.flow_control.resume()  # as a started worker's is
        channel = app.channel(maxsize=1)
        # What an agent iterating the channel makes, and holds: the channel keeps its
        # subscribers in a WeakSet, so an unheld clone may be collected at any time (CI of
        # 1b2a81b saw the put land nowhere).
        agents_view = channel.clone(is_iterator=True)
        empty = _full(channel)
        await channel.put("chunk")  # type: ignore[arg-type]
        full = _full(channel) and agents_view.queue.full()
        return empty, full, channel.queue.full()

    empty, full, own_queue_full = asyncio.run(run())
    assert not empty and full
    assert not own_queue_full  # what the consumer used to read


def full_channel_then(change) -> bool:
    """``_room_or_copies_wait`` on a full channel while ``change(app, clone)`` runs."""

    async def run() -> bool:
        app = faust.App("test-room", broker="kafka://127.0.0.1:1")
        app.flow_control.resume()
        app.copies_waits = 0  # type: ignore[attr-defined]
        channel = app.channel(maxsize=1)
        clone = channel.clone(is_iterator=True)
        await channel.put("chunk")  # type: ignore[arg-type]
        consumer = SimpleNamespace(should_stop=False, _stopped=asyncio.Event())
        asyncio.get_running_loop().call_later(0.05, change, app, clone)
        waiting = _BatchConsumer._room_or_copies_wait(consumer, app, channel)  # type: ignore[arg-type]
        return await asyncio.wait_for(waiting, 5)

    return asyncio.run(run())


def test_a_full_channel_is_waited_on_until_it_has_room():
    assert full_channel_then(lambda app, clone: clone.queue.get_nowait()) is True


def test_a_copies_wait_begun_while_the_fetcher_waits_on_a_full_channel_is_seen():
    """The agent of the full channel starts waiting for another topic's records: hold its
    chunks (False) rather than wait with it, which would stop the fetching of those records."""
    assert full_channel_then(lambda app, clone: setattr(app, "copies_waits", 1)) is False
