"""agent-brain-mcp: fast, trustworthy retrieval over a project's code and docs, served over MCP."""

__version__ = "0.1.0"
