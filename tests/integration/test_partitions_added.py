"""Partitions added the way the docs say (k8s/README.md: the group stopped at zero lag,
then ``driftline partitions``): the workers that start with the new count apply each later
record once and nothing again.

After a crash the command refuses: ``loadtest/add_partitions.py`` measures what it prevents.
"""

from __future__ import annotations

import pytest

from loadtest.add_partitions import LATER, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("routing", ["repartition", "direct"])
def test_partitions_added_with_the_group_stopped_apply_each_record_once(
    stack_config, tmp_path, routing
):
    applied = run(stack_config, tmp_path, routing, crash=False)
    assert (applied.processed, applied.skipped, applied.refused) == (LATER, 0, None)
