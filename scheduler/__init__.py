"""The scheduler: events in, pipelines, queue items, builds out, reports.

``server`` is the process (``lockgate scheduler``): it loads tenants
(``tenants``), runs the drivers' event sources, and for each tenant under its
lock lets ``processor`` load the pipeline state from ZooKeeper, ask the pure
``manager.decide`` what to do, and apply it (``effects``, ``reporting``).
See doc/scheduler.md.
"""
