"""How much reading configuration may cost: the bounds on one read.

A ``.zuul.yaml`` comes from anyone who can propose a change, and the
scheduler reads it (for the tenant's layout, and for every proposed change
that touches it, to build a speculative layout).  So reading must cost
little whatever the input: no file may make the scheduler slow or large for
everyone else.

``ReadLimits`` names the bounds; ``ReadBudget`` spends them over one read of
a project-branch (all its configuration files together).  They are checked
by ``lockgate.config.yaml`` (bytes of a file, nodes reached through YAML
aliases), ``lockgate.config.parser`` (one budget per project-branch) and
``lockgate.config.discovery`` (files on disk are read at most this far).
Going over a bound is a configuration error naming the file (and the line,
for aliases), never a slow load.

Why these numbers (``doc/config.md``, "Bounds"): the largest file of the
real OpenDev configuration in the test corpus is 133 KB (10,259 YAML nodes),
its largest project-branch 232 KB and about 1,100 objects; reading costs
about 1.5 µs of CPU per YAML node (a file can hold one node per two bytes)
and some 70 µs per object.  The defaults leave real configuration 1.4 to 3
times the room it uses, and keep the costliest single file under the cost
of loading that whole tenant (``bench/config_hostile.py`` measures both).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReadLimits:
    """The bounds of one read of configuration."""

    # One file, before it is parsed.
    max_file_bytes: int = 192 * 1024
    # All the files of one project-branch together.
    max_branch_bytes: int = 768 * 1024
    # Nodes reached through YAML aliases (an alias counts what it expands
    # to), over one project-branch: aliases may share, not multiply.
    max_alias_nodes: int = 100_000
    # Configuration objects (top-level items) of one project-branch.
    max_objects: int = 3_000


# What the scheduler and ``lockgate config check`` use for repositories.
DEFAULT_LIMITS = ReadLimits()
# The tenant config is the operator's own file, read once per reconfiguration:
# it gets more room (a large deployment lists thousands of projects).
TENANT_CONFIG_LIMITS = ReadLimits(
    max_file_bytes=64 * 1024 * 1024,
    max_branch_bytes=64 * 1024 * 1024,
    max_alias_nodes=1_000_000,
    max_objects=1_000_000,
)


@dataclass
class ReadBudget:
    """What is left of ``limits`` during one read (one project-branch)."""

    limits: ReadLimits = DEFAULT_LIMITS
    bytes_read: int = 0
    alias_nodes: int = 0
    objects: int = 0
    # Set once the branch total is exceeded, so that it is said once.
    exhausted: bool = field(default=False)

    def take_bytes(self, size: int) -> bool:
        """Spend ``size`` bytes; False (nothing spent) if that would go over."""
        if self.bytes_read + size > self.limits.max_branch_bytes:
            return False
        self.bytes_read += size
        return True

    def take_object(self) -> bool:
        """Count one more configuration object; False once over the bound."""
        if self.objects >= self.limits.max_objects:
            return False
        self.objects += 1
        return True

    def take_alias_nodes(self, count: int) -> bool:
        """Spend ``count`` alias-expanded nodes; False if that would go over."""
        if self.alias_nodes + count > self.limits.max_alias_nodes:
            return False
        self.alias_nodes += count
        return True


def size_text(size: int) -> str:
    """``512 KiB`` rather than ``524288 bytes`` in messages."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
