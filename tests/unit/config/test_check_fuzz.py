"""Property: mutated corpus files never raise anything but ConfigErrors.

Mutations are applied to real corpus files (deleted keys, wrong types,
random scalars, truncation, junk bytes); the parser and the layout builder
must return, with errors as data.  Examples are bounded so that the whole
module runs well under a minute.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lockgate.config.errors import ConfigError
from lockgate.config.layout import build_layout
from lockgate.config.parser import parse_files
from lockgate.config.tenant import TenantProject, TenantSource, TenantSpec, parse_tenant_config

from tests.fixtures.corpus import ZUUL_CONFIG

CORPUS = ZUUL_CONFIG
FILES = [
    "project-config/zuul.d/pipelines.yaml",
    "project-config/zuul.d/secrets.yaml",
    "base-jobs/zuul.d/jobs.yaml",
    "base-jobs/zuul.d/nodesets.yaml",
    "openstack-zuul-jobs/zuul.d/project-templates.yaml",
    "devstack/.zuul.yaml",
    "nova/.zuul.yaml",
]
TEXTS = {name: (CORPUS / name).read_text() for name in FILES}


class _Plain(yaml.SafeLoader):
    pass


# Keep encrypted values as plain strings so mutated documents can be dumped.
_Plain.add_multi_constructor("!", lambda loader, suffix, node: "tagged")
DATA = {name: yaml.load(text, Loader=_Plain) for name, text in TEXTS.items()}

CONFIG = TenantProject(name="org/config", connection="gerrit", trusted=True)
REPO = TenantProject(name="org/repo", connection="gerrit", trusted=False)
TENANT = TenantSpec(name="t", sources=(TenantSource("gerrit", (CONFIG,), (REPO,)),))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(), st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node, prefix=()):
    """Every (container, key) pair in a document, for mutation."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix, node, key
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield prefix, node, index
            yield from _paths(value, prefix + (index,))


def _check(files, project):
    result = parse_files(files, project, "master")
    assert all(isinstance(e, ConfigError) for e in result.errors)
    layout = build_layout(TENANT, [(project, result.objects)])
    assert all(isinstance(e, ConfigError) for e in layout.errors)
    for error in result.errors + layout.errors:
        error.format()
        error.to_api()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(FILES),
    data=st.data(),
    action=st.sampled_from(["delete", "replace", "wrong-type"]),
    trusted=st.booleans(),
)
def test_structural_mutations(name, data, action, trusted):
    doc = copy.deepcopy(DATA[name])
    spots = list(_paths(doc))
    for _ in range(data.draw(st.integers(1, 4))):
        _, container, key = data.draw(st.sampled_from(spots))
        try:
            if action == "delete":
                del container[key]
            elif action == "replace":
                container[key] = data.draw(values)
            else:
                old = container[key]
                container[key] = [old] if not isinstance(old, list) else {"x": old}
        except (KeyError, IndexError, TypeError):
            continue
        spots = list(_paths(doc))
        if not spots:
            break
    text = yaml.safe_dump(doc)
    _check({name: text}, CONFIG if trusted else REPO)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(FILES),
    cut=st.floats(0, 1),
    junk=st.binary(max_size=40),
    where=st.floats(0, 1),
)
def test_truncation_and_junk_bytes(name, cut, junk, where):
    raw = TEXTS[name].encode()
    truncated = raw[: int(len(raw) * cut)]
    at = int(len(truncated) * where)
    _check({name: truncated[:at] + junk + truncated[at:]}, CONFIG)
    _check({name: truncated}, REPO)


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text(text):
    _check({"zuul.yaml": text}, REPO)
    config = parse_tenant_config(text)
    assert all(isinstance(e, ConfigError) for e in config.errors)


@settings(max_examples=30, deadline=None)
@given(cut=st.floats(0, 1), junk=st.binary(max_size=20))
def test_tenant_config_truncated(cut, junk):
    raw = (CORPUS / "project-config/zuul/main.yaml").read_bytes()
    config = parse_tenant_config(raw[: int(len(raw) * cut)] + junk)
    assert all(isinstance(e, ConfigError) for e in config.errors)
