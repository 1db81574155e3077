"""Which executor zone a build goes to (``lockgate.scheduler.manager.zones``):
Zuul's ``executor-zone`` rule, with and without executors serving it."""

from __future__ import annotations

from lockgate.scheduler.manager.zones import DEFAULT_ZONE, build_zone


def test_unzoned_nodes_build_unzoned():
    assert build_zone(None, {"east"}).zone == DEFAULT_ZONE
    assert build_zone("", None).zone == DEFAULT_ZONE
    assert build_zone(DEFAULT_ZONE, set()).fallback is None


def test_zoned_nodes_build_in_their_zone_when_an_executor_serves_it():
    choice = build_zone("east", {DEFAULT_ZONE, "east"})
    assert (choice.zone, choice.fallback) == ("east", None)


def test_a_zone_no_executor_serves_falls_back_to_unzoned_and_says_so():
    choice = build_zone("east", {DEFAULT_ZONE})
    assert choice.zone == DEFAULT_ZONE
    assert choice.fallback is not None and "'east'" in choice.fallback


def test_unknown_executors_trust_the_nodes():
    assert build_zone("east", None).zone == "east"


def test_no_executor_taking_unzoned_builds_is_said():
    """Only zoned executors without ``allow_unzoned``: an unzoned build waits."""
    for choice in (build_zone(None, {"east"}), build_zone("west", {"east"})):
        assert choice.zone == DEFAULT_ZONE
        assert choice.unserved is not None and "allow_unzoned" in choice.unserved


def test_a_served_unzoned_queue_is_not_warned_about():
    # An unzoned executor, or a zoned one with allow_unzoned: the scheduler
    # counts both as serving DEFAULT_ZONE (``served_zones``).
    assert build_zone(None, {DEFAULT_ZONE}).unserved is None
    assert build_zone("west", {"east", DEFAULT_ZONE}).unserved is None
    # A build in its nodes' zone is served by definition; unknown: trusted.
    assert build_zone("east", {"east"}).unserved is None
    assert build_zone(None, None).unserved is None
