"""One client module per provider, all over the shared HTTP policy, and the registry that owns them."""

from .base import ProviderClient, ProviderSettings, Runtime
from .registry import CLIENT_CLASSES, ProviderRegistry

__all__ = ["CLIENT_CLASSES", "ProviderClient", "ProviderRegistry", "ProviderSettings", "Runtime"]
