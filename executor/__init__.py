"""The executor: runs builds' Ansible playbooks against their nodes.

``server`` is the process (``lockgate executor``): it claims build requests
in ZooKeeper by locking them, and ``build.BuildWorker`` drives one claimed
build through ``runner.JobRunner`` (workspace, inventory, ``zuul`` variables,
pre-run/run/post-run under bubblewrap, ``job-output.txt``/``.json``), then
writes the result and tells the scheduler.  See doc/executor.md.
"""
