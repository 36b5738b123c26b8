"""An MCP client for a server in the same process: real JSON-RPC messages, no transport.

:class:`LocalClient` runs the same lifecycle as :class:`~.mcp_client.MCPClient` (``initialize``,
then ``notifications/initialized``) and sends the same ``tools/list`` and ``tools/call`` requests,
but hands each message straight to :meth:`MCPServer.handle <.mcp_server.MCPServer.handle>` instead
of framing it onto stdio or HTTP. Demos and tests that run many short episodes use it to avoid a
subprocess per episode; what reaches the server is byte-for-byte the message a remote client sends.
It has ``list_tools()`` and ``call_tool(name, arguments)``, so ``run_agent`` accepts it as a server.
"""

from __future__ import annotations

import itertools

from . import jsonrpc as rpc
from .mcp_server import LATEST_PROTOCOL_VERSION, MCPServer

__all__ = ["LocalClient"]


class LocalClient:
    """Connect to ``server`` in process and initialise the session.

    Parameters
    ----------
    server : MCPServer
        The server to talk to.

    Raises
    ------
    TypeError
        If ``server`` is not an MCPServer.

    Notes
    -----
    A JSON-RPC error answer raises :class:`~.jsonrpc.RemoteError`, as over a real transport.
    See questions q11-03 and q11-04.

    Examples
    --------
    >>> s = MCPServer("demo")
    >>> s.add_tool("add", lambda a, b: str(a + b), description="Add.", input_schema={
    ...     "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}})
    >>> c = LocalClient(s)
    >>> [t["name"] for t in c.list_tools()], c.call_tool("add", {"a": 2, "b": 3})["content"][0]["text"]
    (['add'], '5')
    """

    def __init__(self, server: MCPServer) -> None:
        if not isinstance(server, MCPServer):
            raise TypeError(f"server must be an MCPServer; got {type(server).__name__}.")
        self.server, self.session, self._ids = server, server.new_session(), itertools.count(1)
        self.initialize_result = self.request("initialize", {
            "protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "interviewlib-local", "version": "1.0"}})
        server.handle(rpc.notification("notifications/initialized", None), self.session)

    def request(self, method: str, params: dict | None = None) -> dict:
        """Send one request and return its ``result`` (raise ``RemoteError`` on an error answer)."""
        reply = self.server.handle(rpc.request(method, params, next(self._ids)), self.session)
        if "error" in reply:
            err = reply["error"]
            raise rpc.RemoteError(err["code"], err["message"], err.get("data"))
        return reply["result"]

    def list_tools(self) -> list[dict]:
        """The server's tool definitions (``tools/list``)."""
        return self.request("tools/list")["tools"]

    def call_tool(self, name: str, arguments: dict | None = None) -> dict:
        """Call a tool (``tools/call``) and return the MCP result (``content``, ``isError``, ...)."""
        return self.request("tools/call", {"name": name, "arguments": arguments or {}})
