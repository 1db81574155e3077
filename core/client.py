"""``lockgate client VERB``: the admin actions through the REST API, as zuul-client does them.

Who calls it: operators and scripts (``lockgate client enqueue --tenant demo
--pipeline gate --project org/app --change 12,1``), with a bearer token
(``--auth-token``, else ``$LOCKGATE_AUTH_TOKEN``; ``lockgate
create-auth-token`` makes one for an HS256 realm).  The verbs and their
arguments are zuul-client's: ``enqueue``, ``enqueue-ref``, ``dequeue``,
``promote``, ``autohold``, ``autohold-list``, ``autohold-info``,
``autohold-delete``, ``manage-events``, ``node-set-state``,
``nodeset-request-delete``.

Where the web is: ``--zuul-url``/``--url``, else ``$LOCKGATE_URL``, else the
``[web]`` section of the service config (``-c``).  What comes next: the web
checks the token (``lockgate.web.auth``) and hands the action to the
scheduler through ZooKeeper (``lockgate.web.api_admin``).

Each invocation sends one ``X-Lockgate-Request-Id``, the same on a retry
after a lost connection, so an action is stored once.  Exit status: 0 done,
1 refused or failed (the web's ``error: description`` on stderr), 2 bad
arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from typing import Any
from urllib.parse import quote

import requests
from lockgate.service_config import ServiceConfig, ServiceConfigError

TIMEOUT = 30.0
RETRIES = 3
VERBS = (
    "enqueue",
    "enqueue-ref",
    "dequeue",
    "promote",
    "autohold",
    "autohold-list",
    "autohold-info",
    "autohold-delete",
    "manage-events",
    "node-set-state",
    "nodeset-request-delete",
)
# zuul-client's ``manage-events`` states: (discarding, triggers paused, results paused).
EVENT_STATES = {
    "normal": (False, False, False),
    "discard-trigger": (True, False, False),
    "pause-trigger": (False, True, False),
    "pause-result": (False, True, True),
}


class ClientError(Exception):
    """The action was refused or could not be sent; ``str()`` says why."""


def add_parsers(sub: Any) -> None:
    """``lockgate client ...`` and ``lockgate create-auth-token``."""
    from lockgate.auth import tokens

    client = sub.add_parser(
        "client", help="admin actions through the REST API (zuul-client's verbs)"
    )
    client.add_argument("--zuul-url", "--url", dest="url", help="the web's base URL")
    client.add_argument("--auth-token", help="bearer token (default: $LOCKGATE_AUTH_TOKEN)")
    client.add_argument(
        "--format", choices=("text", "json"), default="text", help="output of list and info verbs"
    )
    verbs = client.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, text: str, tenant: bool = True) -> argparse.ArgumentParser:
        parser = verbs.add_parser(name, help=text)
        if tenant:
            parser.add_argument("--tenant", required=True, help="tenant name")
        return parser

    p = verb("enqueue", "enqueue a change")
    p.add_argument("--pipeline", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--change", required=True, help="change id: NUMBER,PATCHSET")
    p = verb("enqueue-ref", "enqueue a ref (replay a ref update)")
    p.add_argument("--pipeline", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--ref", required=True)
    p.add_argument("--oldrev", default=None)
    p.add_argument("--newrev", default=None)
    p = verb("dequeue", "dequeue a change or a ref")
    p.add_argument("--pipeline", required=True)
    p.add_argument("--project", required=True)
    p.add_argument("--change", default=None)
    p.add_argument("--ref", default=None)
    p = verb("promote", "move changes to the head of their queue")
    p.add_argument("--pipeline", required=True)
    p.add_argument("--changes", required=True, nargs="+", help="change ids: NUMBER,PATCHSET")
    p = verb("autohold", "hold the nodes of a job's next failing builds")
    p.add_argument("--project", required=True)
    p.add_argument("--job", required=True)
    p.add_argument("--change", default="", help="only builds of this change (its number)")
    p.add_argument("--ref", default="", help="only builds of refs matching this regex")
    p.add_argument("--reason", required=True)
    p.add_argument("--count", type=int, default=1, help="how many failing builds (default 1)")
    p.add_argument(
        "--node-hold-expiration",
        type=int,
        default=None,
        help="seconds to keep the nodes (default: the scheduler's default_hold_expiration)",
    )
    verb("autohold-list", "list autohold requests")
    for name, text in (
        ("autohold-info", "show one autohold request"),
        ("autohold-delete", "delete an autohold request (releases its nodes)"),
    ):
        p = verb(name, text)
        p.add_argument("id", metavar="REQUEST_ID")
    p = verb("manage-events", "pause, discard or resume a tenant's events", tenant=False)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--tenant", help="tenant name")
    which.add_argument("--all-tenants", action="store_true", help="every tenant")
    p.add_argument("state", choices=list(EVENT_STATES))
    p.add_argument("--reason", default=None, help="shown on the status page")
    p = verb("node-set-state", "hold a node, or give it back to be deleted")
    p.add_argument("node", metavar="NODE_ID")
    p.add_argument("state", choices=["hold", "used"])
    p = verb("nodeset-request-delete", "cancel a pending nodeset request (its job fails)")
    p.add_argument("request", metavar="REQUEST_ID")

    token = sub.add_parser(
        "create-auth-token", help="make an admin token for an HS256 [auth] realm"
    )
    tokens.build_parser(token)


def web_url(explicit: str | None, config_path: str | None) -> str:
    if explicit:
        return explicit.rstrip("/")
    if os.environ.get("LOCKGATE_URL"):
        return os.environ["LOCKGATE_URL"].rstrip("/")
    try:
        section = ServiceConfig.load(config_path or "").section("web")
    except ServiceConfigError as e:
        raise ClientError(f"no --url given and the service config cannot tell: {e}") from None
    host = section.get("listen_address") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{host}:{section.get('port') or 9000}"


class AdminClient:
    """The REST calls, one per verb (zuul-client's paths and bodies)."""

    def __init__(self, url: str, token: str | None, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.token = token
        self.session = session or requests.Session()
        self.request_id = uuid.uuid4().hex

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, admin: bool = True
    ) -> Any:
        headers = {"X-Lockgate-Request-Id": self.request_id}
        if admin and not self.token:
            raise ClientError(
                "this action needs a token: --auth-token or $LOCKGATE_AUTH_TOKEN "
                "(lockgate create-auth-token makes one)"
            )
        if self.token:  # reads too: a read-protected tenant needs it
            token = self.token[len("Bearer ") :] if self.token.startswith("Bearer ") else self.token
            headers["Authorization"] = f"Bearer {token}"
        last: Exception | None = None
        for attempt in range(RETRIES):
            try:
                reply = self.session.request(
                    method, self.url + path, json=body, headers=headers, timeout=TIMEOUT
                )
                break
            except requests.ConnectionError as e:
                last = e
                time.sleep(0.5 * (attempt + 1))
        else:
            raise ClientError(f"cannot reach the web at {self.url}: {last}")
        if reply.status_code >= 400:
            try:
                doc = reply.json()
                message = f"{doc['error']}: {doc['description']}"
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {reply.status_code}: {reply.text[:200]}"
            raise ClientError(message)
        if reply.status_code == 204 or not reply.content:
            return True
        return reply.json()

    @staticmethod
    def _t(tenant: str) -> str:
        return f"/api/tenant/{quote(tenant, safe='')}"

    @staticmethod
    def _p(project: str) -> str:
        return quote(project, safe="/")

    def enqueue(self, tenant: str, pipeline: str, project: str, change: str) -> Any:
        return self._call(
            "POST",
            f"{self._t(tenant)}/project/{self._p(project)}/enqueue",
            {"pipeline": pipeline, "change": change},
        )

    def enqueue_ref(
        self,
        tenant: str,
        pipeline: str,
        project: str,
        ref: str,
        oldrev: str | None,
        newrev: str | None,
    ) -> Any:
        body = {"pipeline": pipeline, "ref": ref, "oldrev": oldrev, "newrev": newrev}
        return self._call("POST", f"{self._t(tenant)}/project/{self._p(project)}/enqueue", body)

    def dequeue(
        self, tenant: str, pipeline: str, project: str, change: str | None, ref: str | None
    ) -> Any:
        body: dict[str, Any] = {"pipeline": pipeline}
        if change:
            body["change"] = change
        if ref:
            body["ref"] = ref
        return self._call("POST", f"{self._t(tenant)}/project/{self._p(project)}/dequeue", body)

    def promote(self, tenant: str, pipeline: str, changes: list[str]) -> Any:
        return self._call(
            "POST", f"{self._t(tenant)}/promote", {"pipeline": pipeline, "changes": changes}
        )

    def autohold(self, tenant: str, project: str, **body: Any) -> Any:
        return self._call("POST", f"{self._t(tenant)}/project/{self._p(project)}/autohold", body)

    def autohold_list(self, tenant: str) -> Any:
        return self._call("GET", f"{self._t(tenant)}/autohold", admin=False)

    def autohold_info(self, tenant: str, request_id: str) -> Any:
        return self._call(
            "GET", f"{self._t(tenant)}/autohold/{quote(request_id, safe='')}", admin=False
        )

    def autohold_delete(self, tenant: str, request_id: str) -> Any:
        return self._call("DELETE", f"{self._t(tenant)}/autohold/{quote(request_id, safe='')}")

    def tenants(self) -> list[str]:
        return [t["name"] for t in self._call("GET", "/api/tenants", admin=False)]

    def tenant_state(self, tenant: str, state: str, reason: str | None) -> Any:
        discarding, triggers, results = EVENT_STATES[state]
        body = {
            "trigger_queue_discarding": discarding,
            "trigger_queue_paused": triggers,
            "result_queue_paused": results,
            "reason": reason,
        }
        return self._call("POST", f"{self._t(tenant)}/state", body)

    def node_set_state(self, tenant: str, node: str, state: str) -> Any:
        return self._call(
            "PUT", f"{self._t(tenant)}/nodes/{quote(node, safe='')}", {"state": state}
        )

    def nodeset_request_delete(self, tenant: str, request_id: str) -> Any:
        return self._call(
            "DELETE", f"{self._t(tenant)}/nodeset-requests/{quote(request_id, safe='')}"
        )


def _hold_text(hold: dict[str, Any]) -> str:
    lines = [
        f"ID: {hold.get('id')}",
        f"Tenant: {hold.get('tenant')}",
        f"Project: {hold.get('project')}",
        f"Job: {hold.get('job')}",
        f"Ref Filter: {hold.get('ref_filter')}",
        f"Max Count: {hold.get('max_count')}",
        f"Current Count: {hold.get('current_count')}",
        f"Node Expiration: {hold.get('node_expiration') or 'none'}",
        f"Request Expiration: {time.ctime(hold['expired']) if hold.get('expired') else 'N/A'}",
        f"Reason: {hold.get('reason')}",
        "Held Nodes:",
    ]
    for held in hold.get("nodes") or []:
        lines.append(f"  build {held.get('build')}: {', '.join(held.get('nodes') or [])}")
    return "\n".join(lines)


def _holds_table(holds: list[dict[str, Any]]) -> str:
    if not holds:
        return "No autohold requests found"
    rows = [("ID", "Tenant", "Project", "Job", "Ref Filter", "Count", "Reason")]
    rows += [
        (
            str(h.get("id")),
            str(h.get("tenant")),
            str(h.get("project")),
            str(h.get("job")),
            str(h.get("ref_filter")),
            f"{h.get('current_count')}/{h.get('max_count')}",
            str(h.get("reason")),
        )
        for h in holds
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def run(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    """Run ``lockgate client VERB`` or ``lockgate create-auth-token``."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.command == "create-auth-token":
        from lockgate.auth import tokens

        try:
            config = ServiceConfig.load(args.config)
        except ServiceConfigError as e:
            print(f"lockgate create-auth-token: {e}", file=err)
            return 2
        return tokens.main(config, args)
    if not getattr(args, "verb", None):
        print("lockgate client: a VERB is needed: " + ", ".join(VERBS), file=err)
        return 2
    try:
        if args.verb == "autohold" and args.change and args.ref:
            raise ClientError("--change and --ref cannot both be given")
        if args.verb == "dequeue" and bool(args.change) == bool(args.ref):
            raise ClientError("dequeue needs --change or --ref (one of them)")
        client = AdminClient(
            web_url(args.url, args.config), args.auth_token or os.environ.get("LOCKGATE_AUTH_TOKEN")
        )
        result = _dispatch(client, args)
    except ClientError as e:
        print(f"lockgate client {args.verb}: {e}", file=err)
        return 1
    if args.verb in ("autohold-list", "autohold-info"):
        if args.format == "json":
            print(json.dumps(result, indent=2), file=out)
        else:
            text = _holds_table(result) if args.verb == "autohold-list" else _hold_text(result)
            print(text, file=out)
    return 0


def _dispatch(client: AdminClient, a: argparse.Namespace) -> Any:
    if a.verb == "enqueue":
        return client.enqueue(a.tenant, a.pipeline, a.project, a.change)
    if a.verb == "enqueue-ref":
        return client.enqueue_ref(a.tenant, a.pipeline, a.project, a.ref, a.oldrev, a.newrev)
    if a.verb == "dequeue":
        return client.dequeue(a.tenant, a.pipeline, a.project, a.change, a.ref)
    if a.verb == "promote":
        return client.promote(a.tenant, a.pipeline, a.changes)
    if a.verb == "autohold":
        return client.autohold(
            a.tenant,
            a.project,
            job=a.job,
            change=a.change or None,
            ref=a.ref or None,
            reason=a.reason,
            count=a.count,
            node_hold_expiration=a.node_hold_expiration,
        )
    if a.verb == "autohold-list":
        return client.autohold_list(a.tenant)
    if a.verb == "autohold-info":
        return client.autohold_info(a.tenant, a.id)
    if a.verb == "manage-events":
        tenants = client.tenants() if a.all_tenants else [a.tenant]
        return [client.tenant_state(t, a.state, a.reason) for t in tenants]
    if a.verb == "node-set-state":
        return client.node_set_state(a.tenant, a.node, a.state)
    if a.verb == "nodeset-request-delete":
        return client.nodeset_request_delete(a.tenant, a.request)
    return client.autohold_delete(a.tenant, a.id)
