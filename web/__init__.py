"""The web service: Zuul's REST API, build logs, health checks and a minimal dashboard.

``lockgate web`` runs ``lockgate.web.server.main``.  The service reads build
history from SQL (``lockgate.db``) and tenant/pipeline state from ZooKeeper
(``lockgate.web.cluster``, the one place where ZooKeeper calls run, in a
thread executor); everything else is asyncio (aiohttp).  See doc/web-api.md.
"""
