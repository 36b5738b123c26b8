"""An MCP server written with the official SDK (mcp 2.x ``MCPServer``, formerly ``FastMCP``), run over stdio.

The interoperability tests start it as a subprocess and talk to it with our own client.
"""

from mcp.server.mcpserver import MCPServer

server = MCPServer("sdk-reference-server", version="2.3.0-test")


@server.tool(description="Multiply two integers.")
def multiply(a: int, b: int) -> int:
    return a * b


@server.tool(description="Echo a string back, upper-cased.")
def shout(text: str) -> str:
    return text.upper()


@server.resource("note://greeting", name="greeting", mime_type="text/plain")
def greeting() -> str:
    return "hello from the SDK"


@server.prompt(description="Ask for a summary of a topic.")
def summarize(topic: str) -> str:
    return f"Summarize {topic} in one sentence."


if __name__ == "__main__":
    server.run("stdio")
