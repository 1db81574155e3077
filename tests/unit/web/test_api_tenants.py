"""Service and tenant endpoints, from layouts written into a real ZooKeeper."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lockgate.config.errors import ConfigError, Severity, SourceContext
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.queues import EventQueue

from tests.fixtures.web import WebHarness

Publish = Callable[..., object]

ERRORS = [
    ConfigError(
        "Job parent 'nope' not found",
        SourceContext("demo/app", "main", ".zuul.yaml", 3),
        "job",
        "unit",
        key="unknown-parent",
    ).to_api(),
    ConfigError(
        "expected a list\n  in pipeline",
        SourceContext("demo/app", "stable", "zuul.d/p.yaml", 1),
        "project",
        "demo/app",
        key="schema",
    ).to_api(),
    ConfigError(
        "deprecated syntax",
        SourceContext("demo/lib", "main", "zuul.yaml", 9),
        severity=Severity.WARNING,
        key="deprecated",
    ).to_api(),
]


def test_info(web: WebHarness) -> None:
    info = web.get_json("/api/info")["info"]
    assert info["capabilities"]["job_history"] is True
    assert set(info) >= {"capabilities", "stats", "websocket_url"}
    assert "tenant" not in info


def test_index_lists_endpoints(web: WebHarness) -> None:
    index = web.get_json("/api")
    assert index["builds"] == "/api/tenant/{tenant}/builds"
    assert index["config_errors"] == "/api/tenant/{tenant}/config-errors"


def test_tenants_come_from_published_layouts(web: WebHarness, publish: Publish) -> None:
    assert web.get_json("/api/tenants") == []
    publish("zeta", projects=["a"])
    publish("alpha", projects=["demo/app", "demo/lib"])
    publish("org/team", projects=[])  # a name that needs quoting in ZooKeeper
    assert web.get_json("/api/tenants") == [
        {"name": "alpha", "projects": 2, "queue": 0},
        {"name": "org/team", "projects": 0, "queue": 0},
        {"name": "zeta", "projects": 1, "queue": 0},
    ]


def test_tenant_info(web: WebHarness, publish: Publish) -> None:
    publish("t")
    assert web.get_json("/api/tenant/t/info")["info"]["tenant"] == "t"
    assert web.get_json("/api/tenant/nope/info", status=404) == {
        "error": "Not Found",
        "description": "Unknown tenant: nope",
    }


def test_status_lists_pipelines_with_empty_queues(
    web: WebHarness, publish: Publish, zk_client: ZKClient
) -> None:
    layout = publish(
        "t",
        pipelines=["check", "gate"],
        loaded_at=1_700_000_000.5,
        pipeline_info={
            "check": {
                "description": "Newly uploaded patchsets",
                "manager": "independent",
                "triggers": [{"name": "git", "driver": "git"}],
            },
            "gate": {"manager": "dependent", "window": 20},
        },
    )
    EventQueue(zk_client, paths.trigger_queue("t")).put({"type": "ref-updated"})
    EventQueue(zk_client, paths.trigger_queue("t")).put({"type": "ref-updated"})
    status = web.get_json("/api/tenant/t/status")
    assert status["zuul_version"]
    assert status["last_reconfigured"] == 1_700_000_000_500
    assert status["trigger_event_queue"] == {"length": 2}
    assert status["management_event_queue"] == {"length": 0}
    assert [p["name"] for p in status["pipelines"]] == ["check", "gate"]
    check, gate = status["pipelines"]
    assert check["description"] == "Newly uploaded patchsets"
    assert check["manager"] == "independent"
    assert check["triggers"] == [{"name": "git", "driver": "git"}]
    assert check["change_queues"] == [] and gate["change_queues"] == []
    assert gate["window"] == 20 and gate["description"] == ""
    assert layout is not None


def test_pipelines(web: WebHarness, publish: Publish) -> None:
    publish(
        "t",
        pipelines=["check"],
        pipeline_info={"check": {"triggers": [{"name": "git", "driver": "git"}]}},
    )
    assert web.get_json("/api/tenant/t/pipelines") == [
        {"name": "check", "triggers": [{"name": "git", "driver": "git"}]}
    ]


def test_config_errors(web: WebHarness, publish: Publish) -> None:
    publish("t", config_errors=ERRORS)
    errors = web.get_json("/api/tenant/t/config-errors")
    assert len(errors) == 3
    first = errors[0]
    assert first["source_context"] == {
        "project": "demo/app",
        "branch": "main",
        "path": ".zuul.yaml",
    }
    assert first["error"] == "Job parent 'nope' not found"
    assert first["short_error"] == "Job parent 'nope' not found"
    assert first["severity"] == "error"
    # Zuul's kind, so clients filtering on Zuul's names find it; the finer key as detail.
    assert first["name"] == "Job Not Found" and first["detail"] == "unknown-parent"
    assert errors[1]["short_error"] == "expected a list"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("project=demo/app", ["unknown-parent", "schema"]),
        ("project=demo/app&branch=stable", ["schema"]),
        ("severity=warning", ["deprecated"]),
        ("name=Unknown%20Configuration%20Error", ["schema"]),
        ("name=Job+Not+Found", ["unknown-parent"]),
        ("name=unknown-parent", []),
        ("limit=1", ["unknown-parent"]),
        ("limit=2&skip=1", ["schema", "deprecated"]),
        ("project=nope", []),
    ],
)
def test_config_errors_filters(
    web: WebHarness, publish: Publish, query: str, expected: list[str]
) -> None:
    publish("t", config_errors=ERRORS)
    errors = web.get_json(f"/api/tenant/t/config-errors?{query}")
    assert [e["detail"] for e in errors] == expected


def test_a_republished_layout_is_served(web: WebHarness, publish: Publish) -> None:
    publish("t", config_errors=ERRORS)
    assert len(web.get_json("/api/tenant/t/config-errors")) == 3
    publish("t", config_errors=[])
    assert web.get_json("/api/tenant/t/config-errors") == []


@pytest.mark.parametrize(
    "path",
    ["/api/tenant/nope/status", "/api/tenant/nope/config-errors", "/api/tenant/nope/pipelines"],
)
def test_unknown_tenant_is_404(web: WebHarness, path: str) -> None:
    assert web.get_json(path, status=404) == {
        "error": "Not Found",
        "description": "Unknown tenant: nope",
    }


def test_zookeeper_away_is_503_with_reason(
    web: WebHarness, publish: Publish, zk_client: ZKClient
) -> None:
    publish("t")
    zk_client.disconnect()
    body = web.get_json("/api/tenant/t/status", status=503)
    assert "ZooKeeper" in body["description"] and "not connected" in body["description"]
    assert "ZooKeeper" in web.get_json("/api/tenants", status=503)["description"]
    # History needs the tenant list too, so it answers 503 rather than a wrong 404.
    web.get_json("/api/tenant/t/builds", status=503)


def test_status_shows_the_schedulers_queue_items(
    web: WebHarness, publish: Publish, zk_client: ZKClient
) -> None:
    from lockgate.model.jobs import FrozenJob
    from lockgate.model.queue import ChangeQueue, ItemState, JobState, JobStatus, QueueItem
    from lockgate.zk.pipelines import PipelineStore

    publish("t", projects=["demo/app"], pipelines=["check", "post"])
    store = PipelineStore(zk_client, "t")
    loaded = store.load("post")
    item = QueueItem(
        uuid="item1",
        tenant="t",
        pipeline="post",
        queue="demo/app",
        event_id="ev1",
        event_type="ref-updated",
        connection="git",
        project="demo/app",
        ref="refs/heads/main",
        branch="main",
        oldrev="0" * 40,
        newrev="1" * 40,
        state=ItemState.ACTIVE,
        buildset_uuid="bs1",
        jobs=[
            JobState(
                name="hello",
                job=FrozenJob(name="hello"),
                status=JobStatus.BUILD_REQUESTED,
                build_uuid="b1",
                attempt=1,
                start_time=1_700_000_000.0,
            )
        ],
    )
    loaded.items["item1"] = item
    loaded.state.queues.append(ChangeQueue(name="demo/app", items=["item1"]))
    store.save_items(loaded, {"item1"})
    store.save_state(loaded)

    status = web.get_json("/api/tenant/t/status")
    pipelines = {p["name"]: p for p in status["pipelines"]}
    assert set(pipelines) == {"check", "post"}
    assert pipelines["check"]["change_queues"] == []
    [queue] = pipelines["post"]["change_queues"]
    [[entry]] = queue["heads"]
    assert entry["id"] == "item1" and entry["project"] == "demo/app"
    assert entry["refs"][0]["newrev"] == "1" * 40
    assert [j["name"] for j in entry["jobs"]] == ["hello"]
    assert entry["jobs"][0]["uuid"] == "b1"
    assert web.get_json("/api/tenants") == [{"name": "t", "projects": 1, "queue": 1}]
