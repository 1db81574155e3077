"""``lockgate up``: a complete Lockgate on one machine, on embedded defaults.

Modules: ``prereqs`` (what the machine must have, with the fix for each
missing piece), ``seed`` (state directory, keys, certificates, the demo
tenant's repositories, the generated service config), ``supervisor`` (the
component processes), ``main`` (the command: start in order with progress,
print where things are, stop everything on Ctrl-C).

Every component still runs as its own process and talks only through
ZooKeeper and SQL, exactly as on a cluster.
"""

from lockgate.up.main import main

__all__ = ["main"]
