"""The launcher: turns node requests into nodes and deletes them after use.

``server`` is the process (``lockgate launcher``): it watches node requests in
ZooKeeper, claims one by locking it, asks a provider for one node per label,
records the nodes and tells the scheduler through the tenant's result queue.
``providers/`` holds the clouds it can draw nodes from (``static`` hosts, the
``local`` one-machine cloud); ``planning`` decides which provider takes a
request, without any I/O.
"""
