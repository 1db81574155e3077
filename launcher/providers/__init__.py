"""Node providers and the registry that builds them from the service config.

Who calls it: the launcher server at start, ``load_providers(config)``; each
``[provider NAME]`` section's ``driver`` picks the class.  Tests build a
provider directly from a ``Section``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lockgate.launcher.providers.base import (
    CapacityError,
    Fit,
    LaunchError,
    Provider,
    ProviderError,
)
from lockgate.launcher.providers.local import LocalProvider
from lockgate.launcher.providers.static import StaticProvider
from lockgate.service_config import Section, ServiceConfig

Factory = Callable[[Section, str], Provider]

DRIVERS: dict[str, Factory] = {
    "local": LocalProvider,
    "static": StaticProvider,
}


def make_provider(section: Section, state_dir: str | os.PathLike[str]) -> Provider:
    """One provider from its ``[provider NAME]`` section."""
    driver = section.require("driver")
    factory = DRIVERS.get(driver)
    if factory is None:
        raise section.error(
            "driver", f"unknown provider driver {driver!r} (one of: {', '.join(sorted(DRIVERS))})"
        )
    return factory(section, str(state_dir))


def load_providers(config: ServiceConfig) -> list[Provider]:
    """Every ``[provider NAME]`` of ``config``, in file order."""
    state_dir = config.section("launcher").get_path("state_dir") or "/var/lib/lockgate/launcher"
    return [make_provider(section, state_dir) for section in config.named("provider").values()]


__all__ = [
    "CapacityError",
    "DRIVERS",
    "Fit",
    "LaunchError",
    "LocalProvider",
    "Provider",
    "ProviderError",
    "StaticProvider",
    "load_providers",
    "make_provider",
]
