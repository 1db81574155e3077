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
