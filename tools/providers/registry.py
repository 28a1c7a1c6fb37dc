"""The registry that owns the provider clients: one pooled client per configured provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..errors import ProviderError
from ..results.task import PROVIDERS, ProviderName
from .ango.client import AngoClient
from .base import ProviderClient, ProviderSettings, Runtime
from .deepomatic import DeepomaticClient
from .maxsight import MaxsightClient
from .sendai import SendaiClient

CLIENT_CLASSES: dict[ProviderName, type[ProviderClient]] = {
    "ango": AngoClient,
    "deepomatic": DeepomaticClient,
    "sendai": SendaiClient,
    "maxsight": MaxsightClient,
}


class ProviderRegistry:
    """The server's provider clients: one pooled client per configured provider, for its whole lifetime."""

    def __init__(
        self,
        settings: Mapping[ProviderName, ProviderSettings],
        runtime: Callable[[ProviderName], Runtime] | None = None,
    ) -> None:
        self.settings = dict(settings)
        self._clients: dict[ProviderName, ProviderClient] = {
            name: CLIENT_CLASSES[name](conf, runtime(name) if runtime else None)
            for name, conf in self.settings.items()
            if conf.configured
        }

    def client(self, name: ProviderName) -> ProviderClient:
        """The client for `name`, or a `not_configured` error naming the variable to set."""
        client = self._clients.get(name)
        if client is not None:
            return client
        conf = self.settings.get(name)
        reason = conf.missing if conf and conf.missing else f"set {name.upper()}_API_KEY"
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


__all__ = ["CLIENT_CLASSES", "ProviderClient", "ProviderRegistry", "ProviderSettings", "Runtime"]
