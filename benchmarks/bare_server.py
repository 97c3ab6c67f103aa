"""The baseline for start-up: a bare MCPServer with one trivial tool."""

from mcp.server.mcpserver import MCPServer

mcp = MCPServer(name="bare")


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    mcp.run()
