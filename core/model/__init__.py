"""The records processes exchange through ZooKeeper.

Split by lifetime, as in Zuul: ``events`` (frozen, immutable once put on a
queue), ``jobs`` (the frozen job a build runs), ``nodes`` (node requests and
nodes, owned by the launcher) and ``builds`` (build requests, owned by the
executor once locked).  Every record round-trips through ``to_dict`` /
``from_dict`` so the ZooKeeper layer stores plain JSON.
"""
