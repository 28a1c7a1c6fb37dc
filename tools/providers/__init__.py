"""One client module per provider, all over the shared HTTP policy, and the registry that owns them."""

from .base import ProviderClient, ProviderSettings, Runtime
from .registry import CLIENT_CLASSES, PROVIDERS, SPECS, SPECS_BY_NAME, ProviderRegistry
from .spec import ProviderSpec

__all__ = [
    "CLIENT_CLASSES",
    "PROVIDERS",
    "SPECS",
    "SPECS_BY_NAME",
    "ProviderClient",
    "ProviderRegistry",
    "ProviderSettings",
    "ProviderSpec",
    "Runtime",
]
