"""Which tenants exist, and their published layouts (``TenantLayoutState``).

Who calls it: the scheduler publishes a tenant's layout with
:func:`save_layout` each time it (re)loads the tenant; the web lists tenants
with :func:`tenant_names` and reads layouts with :func:`load_layout`.  A
tenant exists, for readers, once its layout record does.
"""

from __future__ import annotations

from kazoo.exceptions import NoNodeError
from lockgate.model.tenant_state import TenantLayoutState
from lockgate.zk import paths
from lockgate.zk.client import ZKClient
from lockgate.zk.errors import translate_kazoo_errors
from lockgate.zk.state import tenant_layout


def tenants_root() -> str:
    """The parent of every ``paths.tenant(name)``."""
    return paths.tenants()


@translate_kazoo_errors
def tenant_names(client: ZKClient) -> list[str]:
    """Names of the tenants that have a published layout, sorted."""
    kz = client.kazoo
    try:
        children = client.retry(kz.get_children, tenants_root())
    except NoNodeError:
        return []
    names = []
    for child in children:
        name = paths.unsegment(child)
        if client.retry(kz.exists, paths.tenant_layout(name)) is not None:
            names.append(name)
    return sorted(names)


def load_layout(client: ZKClient, tenant: str) -> TenantLayoutState | None:
    """The tenant's published layout, or None if it has none."""
    data = tenant_layout(client, tenant).load()
    return None if data is None else TenantLayoutState.from_dict(data)


def save_layout(client: ZKClient, layout: TenantLayoutState) -> None:
    """Publish ``layout`` as its tenant's current layout (last writer wins)."""
    state = tenant_layout(client, layout.tenant)
    state.modify(lambda _old: layout.to_dict())
