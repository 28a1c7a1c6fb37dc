"""Provider clients, result models and tools behind the tasklens MCP server."""
