"""Lockgate: a project-gating CI system speaking Zuul's configuration language.

``lockgate`` itself (this folder, ``core/``) holds what every process shares:
the model records, the configuration language, the ZooKeeper layer, the SQL
layer and the command line.  The processes live in sibling folders mapped to
``lockgate.scheduler``, ``lockgate.executor``, ``lockgate.launcher`` and
``lockgate.web``; they meet only in ZooKeeper and SQL.
"""

__version__ = "0.1.0"
