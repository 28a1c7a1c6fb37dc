"""The fixed API keys the sandbox accepts, one per provider.

They are deliberately recognisable strings, not secrets: a newcomer can run tasklens against the
embedded sandbox without any account, and a key that shows up in a log is obviously a sandbox key.
Each provider accepts only its own key, so a client that sends the wrong provider's key fails.
"""

from __future__ import annotations

__all__ = ["SANDBOX_KEYS"]

SANDBOX_KEYS: dict[str, str] = {
    "ango": "sandbox-ango-key-0001",
    "deepomatic": "sandbox-deepomatic-key-0001",
    "sendai": "sandbox-sendai-key-0001",
    "maxsight": "sandbox-maxsight-key-0001",
}
