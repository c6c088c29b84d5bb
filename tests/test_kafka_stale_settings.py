"""``up`` restarts a Kafka node of ours started with settings this version no longer writes
(``kafka.stale_settings``, the service's ``problem``): a dev stack started before the 1 s
minimum session timeout would refuse the tests' 3 s sessions."""

from __future__ import annotations

from streams.stack import kafka
from streams.stack.config import StackConfig


def _started_with(config: StackConfig, text: str) -> None:
    # Where ``up`` writes the file the node is started with (one node: the kafka home).
    home = config.state_dir / "kafka"
    home.mkdir(parents=True)
    (home / "server.properties").write_text(text)


def test_a_node_started_with_what_this_version_writes_is_fine(tmp_path):
    config = StackConfig(state_dir=tmp_path)
    [node] = config.kafka_nodes
    _started_with(config, kafka._plain_properties(config, node) + "\n# a secure listener\n")
    assert kafka.service(config).problem(1.0) is None


def test_a_node_started_by_an_older_version_is_stale(tmp_path):
    config = StackConfig(state_dir=tmp_path)
    [node] = config.kafka_nodes
    current = kafka._plain_properties(config, node)
    assert "group.min.session.timeout.ms=1000\n" in current
    _started_with(config, current.replace("group.min.session.timeout.ms=1000\n", ""))
    assert kafka.service(config).problem(1.0) == (
        "was started with other settings than this version writes (server.properties)"
    )


def test_a_node_without_our_properties_file_is_not_judged(tmp_path):
    assert kafka.service(StackConfig(state_dir=tmp_path)).problem(1.0) is None
