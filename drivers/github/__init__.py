"""Zuul's GitHub driver: pull requests from webhooks, reports and merges back.

Files by role: ``driver.py`` (the registry entry), ``connection.py``
(service-config keys), ``auth.py`` (personal token or GitHub App: JWT and
installation tokens), ``client.py`` (REST calls, rate limits, pages),
``webhook.py`` (signature check and delivery decoding; pure),
``events.py`` (deliveries -> ``TriggerEvent``; pure but for a lookup),
``event_source.py`` (stored deliveries -> trigger queues, in the
scheduler), ``changes.py`` (pull request JSON -> ``Change``; pure),
``source.py`` (``Source``/``ChangeSource``), ``reporter.py`` (statuses,
check runs, comments, labels, reviews, merges), ``schema.py``/``trigger.py``/
``requirements.py`` (pipeline trigger filters and requirements).  The web's
route is ``lockgate.web.webhooks``.  See ``doc/drivers.md``.
"""

from lockgate.drivers.github.connection import GithubConfig, GithubConnection
from lockgate.drivers.github.driver import GithubDriver

__all__ = ["GithubConfig", "GithubConnection", "GithubDriver"]
