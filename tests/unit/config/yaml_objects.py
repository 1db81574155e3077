"""Test helper: YAML text -> ``ConfigObject`` records, with file and line.

The layout tests build their inputs from small YAML snippets written from
Zuul's documentation.  This helper does only what the tests need (one file
at a time, the override-control tags as ``Inherit``/``Override`` wrappers
with a ``value``); the real reader is ``lockgate.config.parser``.
"""

from __future__ import annotations

from typing import Any

import yaml
from lockgate.config.errors import SourceContext
from lockgate.config.objects import ConfigObject


class Inherit:
    def __init__(self, value: Any) -> None:
        self.value = value


class Override:
    def __init__(self, value: Any) -> None:
        self.value = value


class Encrypted:
    def __init__(self, chunks: list[str]) -> None:
        self.ciphertext = chunks


class _Loader(yaml.SafeLoader):
    pass


def _tagged(cls: type) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return cls(loader.construct_sequence(node, deep=True))
        if isinstance(node, yaml.MappingNode):
            return cls(loader.construct_mapping(node, deep=True))
        return cls(loader.construct_scalar(node))

    return construct


def _encrypted(loader: yaml.SafeLoader, node: yaml.Node) -> Encrypted:
    if isinstance(node, yaml.SequenceNode):
        return Encrypted(list(loader.construct_sequence(node)))
    return Encrypted([loader.construct_scalar(node)])


_Loader.add_constructor("!inherit", _tagged(Inherit))
_Loader.add_constructor("!override", _tagged(Override))
_Loader.add_constructor("!encrypted/pkcs1-oaep", _encrypted)
_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def objects_from_yaml(
    text: str,
    project: str,
    *,
    branch: str | None = "master",
    path: str = "zuul.yaml",
    trusted: bool = False,
    connection: str = "gerrit",
) -> list[ConfigObject]:
    loader = _Loader(text)
    out: list[ConfigObject] = []
    try:
        node = loader.get_single_node()
        if node is None:
            return out
        for item in node.value:
            data = loader.construct_object(item, deep=True)
            ((kind, body),) = data.items()
            ctx = SourceContext(
                project=project,
                branch=branch,
                path=path,
                line=item.start_mark.line + 1,
                trusted=trusted,
                connection=connection,
            )
            name = body.get("name") if isinstance(body, dict) else None
            if kind == "project" and not name:
                name = project
            out.append(ConfigObject(kind, name, body, ctx))
    finally:
        loader.dispose()
    return out


# ---------------------------------------------------------------------------
# Small tenants for layout and freezing tests

from lockgate.config.layout import Layout, build_layout  # noqa: E402
from lockgate.config.tenant_view import ProjectView, TenantView  # noqa: E402

# A config project with the pipelines and base job most tests need.
BASE_CONFIG = """
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
    success:
      gerrit:
        Verified: 1
    failure:
      gerrit:
        Verified: -1
- pipeline:
    name: gate
    manager: dependent
    trigger:
      gerrit:
        - event: comment-added
    success:
      gerrit:
        Verified: 2
        submit: true
- pipeline:
    name: post
    manager: supercedent
    post-review: true
    trigger:
      gerrit:
        - event: ref-updated
- nodeset:
    name: single
    nodes:
      - name: controller
        label: ubuntu
- job:
    name: base
    parent: null
    pre-run: playbooks/base/pre.yaml
    post-run: playbooks/base/post.yaml
    nodeset: single
    timeout: 1800
"""


def repo(
    name: str,
    text: str | dict[str, str],
    *,
    trusted: bool = False,
    path: str = "zuul.yaml",
    **options: object,
) -> tuple[ProjectView, list[ConfigObject]]:
    """A tenant project and its objects; ``text`` per branch if a dict."""
    per_branch = text if isinstance(text, dict) else {"master": text}
    objects: list[ConfigObject] = []
    for branch, body in per_branch.items():
        objects += objects_from_yaml(body, name, branch=branch, path=path, trusted=trusted)
    view = ProjectView(
        name=name,
        trusted=trusted,
        connection="gerrit",
        branches=tuple(per_branch),
        **options,  # type: ignore[arg-type]
    )
    return view, objects


def layout_of(
    *repos: tuple[ProjectView, list[ConfigObject]],
    base: str | None = BASE_CONFIG,
    extra_projects: tuple[str, ...] = (),
    **tenant_options: object,
) -> Layout:
    """Build a layout: ``base`` (as config project ``config``) then ``repos``."""
    loaded = list(repos)
    if base is not None:
        loaded.insert(0, repo("config", base, trusted=True))
    views = [v for v, _ in loaded] + [ProjectView(p, False, "gerrit") for p in extra_projects]
    tenant = TenantView("tenant", projects=tuple(views), **tenant_options)  # type: ignore[arg-type]
    return build_layout(tenant, loaded)


def messages(layout: Layout) -> list[str]:
    return [e.message for e in layout.errors]
