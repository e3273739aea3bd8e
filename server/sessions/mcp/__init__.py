"""``sessions mcp``: notebooks as MCP tools for agents (docs/agents.md)."""
