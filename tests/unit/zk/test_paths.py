"""paths: one function per path, user names quoted into one segment."""

from __future__ import annotations

import pytest
from lockgate.zk import paths


def test_paths_live_under_the_root():
    assert paths.trigger_queue("example") == paths.ROOT + "/events/tenant/example/trigger"
    assert paths.build_request("default", "abc") == paths.ROOT + "/requests/build/default/abc"
    assert paths.node_lock("0000000001") == paths.ROOT + "/nodes/locks/0000000001"


def test_names_with_slashes_stay_one_segment_and_round_trip():
    path = paths.keys("gerrit", "org/project")
    assert path.split("/")[-1] == "org%2Fproject"
    assert paths.unsegment(path.split("/")[-1]) == "org/project"
    assert paths.pipeline_state("t", "..").endswith("/%2E%2E")
    for name in ("a b", "x%y", "ü", "."):
        seg = paths.segment(name)
        assert "/" not in seg and paths.unsegment(seg) == name


def test_a_zone_s_folder_is_a_child_of_the_zones_parent():
    """What lets a reader find every zone: list the parent, unquote each child."""
    folder = paths.build_requests("east/1")
    parent, child = folder.rsplit("/", 1)
    assert parent == paths.build_request_zones()
    assert paths.unsegment(child) == "east/1"


def test_empty_names_are_refused():
    with pytest.raises(ValueError, match="cannot be empty"):
        paths.tenant_lock("")


def test_distinct_objects_get_distinct_paths():
    built = {
        paths.trigger_queue("t"),
        paths.management_queue("t"),
        paths.result_queue("t"),
        paths.tenant_layout("t"),
        paths.pipeline_state("t", "gate"),
        paths.tenant_lock("t"),
        paths.pipeline_lock("t", "gate"),
        paths.semaphore("t", "gate"),
        paths.node_requests(),
        paths.node_request_locks(),
        paths.nodes(),
        paths.node_locks(),
        paths.build_request_zones(),
        paths.build_requests("default"),
        paths.build_request_locks("default"),
        paths.merge_requests(),
        paths.components(),
        paths.keys("c", "p"),
        paths.config_cache("c", "p", "main"),
    }
    assert len(built) == 19


def test_every_path_function_is_documented():
    """doc/zookeeper.md is the tree's contract: each path function appears in it."""
    import inspect
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "doc" / "zookeeper.md").read_text()
    helpers = {"segment", "unsegment", "join"}
    functions = [
        name
        for name, fn in inspect.getmembers(paths, inspect.isfunction)
        if fn.__module__ == paths.__name__ and not name.startswith("_") and name not in helpers
    ]
    missing = [name for name in functions if f"`{name}`" not in doc]
    assert not missing, f"paths functions not in doc/zookeeper.md: {missing}"
