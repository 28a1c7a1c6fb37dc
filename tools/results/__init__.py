"""The result models every tool returns, and the compact base they share."""
