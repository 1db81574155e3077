"""The catalog of metrics: well-formed names and statsd keys, and every one
listed in doc/operating.md."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from lockgate.metrics.catalog import ALL, SPECS, Kind, MetricSpec, statsd_safe

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_names_follow_prometheus_conventions(spec: MetricSpec) -> None:
    assert re.fullmatch(r"lockgate_[a-z_]+", spec.name)
    assert spec.name.endswith("_total") == (spec.kind is Kind.COUNTER)
    if spec.kind is Kind.HISTOGRAM:
        assert spec.name.endswith("_seconds") and spec.buckets == tuple(sorted(spec.buckets))
    assert spec.help and set(spec.components) <= set(ALL)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_statsd_keys_use_only_the_labels(spec: MetricSpec) -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(spec.statsd) if f}
    assert fields <= set(spec.labels) | {"component", "hostname"}
    # Every label is in the key but the web's route (URL patterns make poor keys).
    assert set(spec.labels) - fields <= {"route"}
    key = spec.statsd_key({label: "a.b/c" for label in spec.labels}, "executor", "ex1.example")
    assert key.startswith("lockgate.") and ".." not in key
    if set(spec.labels) - {"route"}:
        assert "a_b_c" in key
    if "hostname" in fields:
        assert "ex1_example" in key


def test_statsd_keys_are_safe_and_distinct() -> None:
    assert statsd_safe("org/app.v2:x") == "org_app_v2_x"
    assert statsd_safe("tést") == "t_st"  # statsd's client sends ASCII only
    assert statsd_safe("") == "none"
    keys = [s.statsd for s in SPECS]
    assert len(keys) == len(set(keys))


def test_operating_doc_lists_every_metric() -> None:
    doc = (ROOT / "doc" / "operating.md").read_text()
    missing = [spec.name for spec in SPECS if f"`{spec.name}`" not in doc]
    assert not missing, f"doc/operating.md does not list {missing}"
