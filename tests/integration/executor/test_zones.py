"""Executor zones against a real ZooKeeper (TLS) and real Ansible: which
build requests an executor takes (``[executor] zone`` and
``allow_unzoned``, ``lockgate.model.zones``), and what it registers for the
scheduler to read."""

from __future__ import annotations

from lockgate.model.builds import BuildRequest, BuildState
from lockgate.zk import BuildRequestStore, list_components

from tests.fixtures.executor import make_request, playbooks
from tests.fixtures.waiting import wait_for

OK = """
- hosts: all
  gather_facts: false
  tasks:
    - command: echo ZONE-MARKER
"""


def _submit(zk_client, tree, zone: str) -> tuple[BuildRequestStore, BuildRequest]:
    request = make_request(tree, run=playbooks(tree, ["run.yaml"]))
    request.zone = zone
    store = BuildRequestStore(zk_client, zone)
    store.submit(request)
    return store, request


def _completed(store: BuildRequestStore, uuid: str) -> BuildRequest | None:
    found = store.get(uuid)
    return found.record if found and found.record.state is BuildState.COMPLETED else None


def _registered(zk_client, hostname: str) -> tuple[str, bool]:
    """The zone and ``allow_unzoned`` of executor ``hostname``'s registration."""
    [info] = [c for c in list_components(zk_client, "executor") if c.hostname == hostname]
    return info.state["zone"], info.state["allow_unzoned"]


def test_allow_unzoned_makes_a_zoned_executor_run_unzoned_builds(zk_client, executor, upstream):
    tree = upstream.create("org/app", {"run.yaml": OK})
    west = executor("west", zone="west")
    assert west.settings.zones == ("west",)
    assert _registered(zk_client, "west") == ("west", False)

    # An unzoned request, then one of west's zone: west runs its own (so it
    # has looked since both were there) and leaves the older unzoned one.
    unzoned_store, unzoned = _submit(zk_client, tree, "default")
    west_store, own = _submit(zk_client, tree, "west")
    done = wait_for(lambda: _completed(west_store, own.uuid), 120, "west's own build")
    assert done.result == "SUCCESS" and done.worker == west.component.name, done.error_detail
    left = unzoned_store.get(unzoned.uuid)
    assert left is not None and left.record.state is BuildState.REQUESTED
    assert left.record.worker is None and not unzoned_store.is_locked(unzoned.uuid)

    # A zoned executor with allow_unzoned takes it.
    east = executor("east", zone="east", allow_unzoned="true")
    assert east.settings.zones == ("east", "default")
    assert _registered(zk_client, "east") == ("east", True)
    done = wait_for(lambda: _completed(unzoned_store, unzoned.uuid), 120, "the unzoned build")
    assert done.result == "SUCCESS" and done.worker == east.component.name, done.error_detail
    console = (east.settings.log_root / unzoned.uuid / "job-output.txt").read_text()
    assert "ZONE-MARKER" in console

    # And still its own zone's builds.
    east_store, zoned = _submit(zk_client, tree, "east")
    done = wait_for(lambda: _completed(east_store, zoned.uuid), 120, "east's own build")
    assert done.result == "SUCCESS" and done.worker == east.component.name, done.error_detail


def test_an_unzoned_executor_registers_that_it_takes_unzoned_builds(zk_client, executor):
    executor("plain")
    assert _registered(zk_client, "plain") == ("default", True)
