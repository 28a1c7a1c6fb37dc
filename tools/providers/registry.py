"""The provider registry: the one list of providers, and the pooled client per configured provider.

`SPECS` has one entry per provider, in the canonical order; the names, client classes and environment
variables below, the server's configuration, `tasklens doctor`, the sandbox wiring and the demo all
derive from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import ProviderError
from ..results.provider_name import ProviderName
from ..shared.link import SharedLink
from .ango import SPEC as ANGO
from .base import ProviderClient, ProviderSettings, Runtime
from .deepomatic import SPEC as DEEPOMATIC
from .maxsight import SPEC as MAXSIGHT
from .sendai import SPEC as SENDAI
from .spec import ProviderSpec

SPECS: tuple[ProviderSpec, ...] = (ANGO, DEEPOMATIC, SENDAI, MAXSIGHT)

PROVIDERS: tuple[ProviderName, ...] = tuple(spec.name for spec in SPECS)
SPECS_BY_NAME: dict[ProviderName, ProviderSpec] = {spec.name: spec for spec in SPECS}
CLIENT_CLASSES: dict[ProviderName, type[ProviderClient]] = {spec.name: spec.client for spec in SPECS}
# The providers' variables with their descriptions, provider by provider, for the server's table.
PROVIDER_VARIABLES: dict[str, str] = {
    variable: description for spec in SPECS for variable, description in spec.environment_variables().items()
}


class ProviderRegistry:
    """The server's provider clients: one pooled client per configured provider, for its whole lifetime."""

    def __init__(
        self,
        settings: Mapping[ProviderName, ProviderSettings],
        runtime: Callable[[ProviderName], Runtime] | None = None,
        shared: SharedLink | None = None,
    ) -> None:
        self.settings = dict(settings)
        self._clients: dict[ProviderName, ProviderClient] = {
            name: CLIENT_CLASSES[name](conf, runtime(name) if runtime else None, shared=shared)
            for name, conf in self.settings.items()
            if conf.configured
        }

    def client(self, name: ProviderName) -> ProviderClient:
        """The client for `name`, or a `not_configured` error naming the variable to set."""
        client = self._clients.get(name)
        if client is not None:
            return client
        conf = self.settings.get(name)
        reason = conf.missing if conf and conf.missing else f"set {SPECS_BY_NAME[name].key_variable}"
        raise ProviderError(
            name,
            "not_configured",
            hint=f"{name} is not configured on this tasklens server: {reason}, then restart it "
            "(or run with --sandbox to try the simulated providers).",
        )

    @property
    def configured(self) -> list[ProviderName]:
        """The providers that have a client (a key and a base URL), in the canonical order."""
        return [name for name in PROVIDERS if name in self._clients]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


__all__ = ["CLIENT_CLASSES", "PROVIDERS", "PROVIDER_VARIABLES", "SPECS", "SPECS_BY_NAME", "ProviderRegistry"]
