"""What every node provider offers the launcher, and the errors it raises.

A provider is one ``[provider NAME]`` section of the service config, made
into an object by ``lockgate.launcher.providers.load_providers``.  The
launcher server (``lockgate.launcher.server``) is its only caller: it asks
``fits`` before taking a request, ``create_node`` once per label, and
``delete_node`` when the node was used or its request went away.  At start it
calls ``cleanup_leaked`` with the nodes ZooKeeper still knows, so whatever a
crashed launcher left behind is removed and nothing still in use is touched.
Several launchers may run a provider of the same name (``Sharing``): the
server tells each what the others hold (``set_foreign``) and hands it the
nodes of one that died (``adopt``).

Providers are synchronous and thread-confined: the server calls one provider
from one thread at a time.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

from lockgate.model.nodes import Node


class Fit(enum.Enum):
    """Whether a provider can give a set of labels: now, once nodes are freed,
    or never (a label it does not offer, or more nodes than it can ever have)."""

    NOW = "now"
    LATER = "later"
    NEVER = "never"


class Sharing(enum.Enum):
    """Which launchers share a provider's capacity (``max_servers``, and for
    static hosts the hosts themselves) when several run a provider of the
    same name: they count each other's nodes (``set_foreign``), make nodes
    one at a time under a lock in ZooKeeper, and one takes over (``adopt``)
    the nodes of another that died."""

    MACHINE = "machine"  # launchers on one machine: local nodes use its kernel
    SITE = "site"  # every launcher: the same static hosts


class ProviderError(Exception):
    """A provider could not do what was asked; ``str()`` says what and why."""


class CapacityError(ProviderError):
    """No room right now (every matching host busy, ``max_servers`` reached).
    Not a failure: the launcher gives back what it made and retries later."""


class LaunchError(ProviderError):
    """A node could not be made ready.  The provider has already removed
    whatever it built for the node; the launcher may retry or fail the request."""


@runtime_checkable
class Provider(Protocol):
    """A source of nodes.

    ``name`` is the section's NAME; ``labels`` the labels it offers;
    ``max_servers`` how many of its nodes may exist at once;
    ``executor_zone`` the executor zone of its nodes (None: unzoned).  Nodes carry
    ``provider_data["external_id"]``, the provider's own name for the node,
    which is how ``cleanup_leaked`` tells known nodes from leaks (the
    ZooKeeper id is assigned only after the node exists).
    """

    name: str
    labels: frozenset[str]
    max_servers: int
    sharing: Sharing
    executor_zone: str | None

    def fits(self, labels: Sequence[str]) -> Fit:
        """Whether ``create_node`` would succeed now for every one of ``labels``."""
        ...

    def create_node(self, label: str) -> Node:
        """A READY node with ``label``, reachable over SSH (raises ``LaunchError``)."""
        ...

    def delete_node(self, node: Node) -> None:
        """Remove (or, for hosts that are not ours, give back) ``node``.
        Idempotent: deleting a node that is already gone is not an error."""
        ...

    def cleanup_leaked(
        self, known_external_ids: Collection[str], held_elsewhere: Collection[str] = ()
    ) -> list[str]:
        """Remove every node of this provider whose external id is not in
        ``known_external_ids``; adopt the known ones that still work.  Returns
        the removed ids -- including known ones found dead, whose records the
        launcher then marks FAILED.  ``held_elsewhere``: nodes another
        launcher holds now (it adopted them while this one was down): left
        alone, neither removed nor counted as this launcher's."""
        ...

    def set_foreign(self, external_ids: Collection[str]) -> None:
        """The external ids of this provider's nodes that other launchers
        sharing it hold now: they count against ``max_servers`` (and a
        static host among them is not free), as this launcher's own do."""
        ...

    def adopt(self, node: Node) -> bool:
        """Take over ``node``, made by a launcher sharing this provider that
        died: from now on this launcher deletes it.  False if it cannot
        (a local node of another machine)."""
        ...

    def close(self) -> None:
        """Release process-local resources (not the nodes)."""
        ...
