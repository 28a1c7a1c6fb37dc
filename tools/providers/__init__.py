"""One client module per provider, all over the shared HTTP policy in `tasklens.tools.http_policy`."""
