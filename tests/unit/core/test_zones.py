"""Which build requests an executor takes (``lockgate.model.zones``): Zuul's
``[executor] zone`` and ``allow_unzoned`` rule."""

from __future__ import annotations

import pytest
from lockgate.model.zones import DEFAULT_ZONE, served_zones


@pytest.mark.parametrize("zone", [None, "", DEFAULT_ZONE])
@pytest.mark.parametrize("allow_unzoned", [False, True])
def test_an_unzoned_executor_takes_only_unzoned_builds(zone, allow_unzoned):
    assert served_zones(zone, allow_unzoned) == (DEFAULT_ZONE,)


def test_a_zoned_executor_takes_only_its_zone():
    assert served_zones("east") == ("east",)
    assert served_zones("east", allow_unzoned=False) == ("east",)


def test_allow_unzoned_adds_the_unzoned_builds_after_its_own_zone():
    assert served_zones("east", allow_unzoned=True) == ("east", DEFAULT_ZONE)
