"""tasklens: normalized, compact task status from annotation, inference and KYC platforms over MCP."""

__version__ = "0.1.0"
