"""An MCP client over stdio (a server subprocess) or Streamable HTTP, with timeouts everywhere.

:class:`MCPClient` holds one connection to one server (a host runs one client per server). It runs
the lifecycle itself: ``initialize`` offering the newest revision it speaks, a check that the
server's answer is a revision it speaks too (otherwise it disconnects, as the spec says), then
``notifications/initialized``. Every request has a timeout; on expiry the client sends
``notifications/cancelled`` and raises :class:`MCPTimeoutError`. If a stdio server dies mid-call
the pending call raises :class:`MCPConnectionError` naming the exit code and stderr tail; other
clients (other servers) are unaffected, because nothing is shared between connections.

API::

    with MCPClient.stdio([sys.executable, "-m", "interviewlib.agents", "sqlite", db]) as c:
        c.list_tools(); c.call_tool("list_tables", {}); c.read_resource("sqlite://schema")
    with MCPClient.http("http://127.0.0.1:8000/mcp") as c: ...
    c.transcript   # every JSON-RPC message sent ("->") and received ("<-"), for the book's demos
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from typing import Any

from . import jsonrpc as rpc
from ._client_transports import HTTPTransport, MCPConnectionError, MCPTimeoutError, StdioTransport
from .mcp_server import LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS

__all__ = ["MCPClient", "MCPConnectionError", "MCPTimeoutError", "ProtocolVersionError"]


class ProtocolVersionError(RuntimeError):
    """The server answered initialize with a protocol revision this client does not speak."""


class MCPClient:
    """A client for one MCP server; build it with :meth:`stdio` or :meth:`http`.

    Parameters
    ----------
    transport : StdioTransport or HTTPTransport
        An open transport.
    timeout : float
        Seconds to wait for each response.
    client_info : dict, optional
        ``{"name": ..., "version": ...}`` sent at initialisation.
    protocol_version : str
        The revision offered in ``initialize`` (default: the newest one we speak).

    Notes
    -----
    Declares no client capabilities (no roots, sampling or elicitation), so a well-behaved server
    never sends it requests; a server->client request is answered with ``-32601``. See question
    q11-01.
    """

    def __init__(self, transport: StdioTransport | HTTPTransport, *, timeout: float = 10.0,
                 client_info: dict | None = None, protocol_version: str = LATEST_PROTOCOL_VERSION):
        if not isinstance(transport, (StdioTransport, HTTPTransport)):
            raise TypeError(f"transport must be a StdioTransport or HTTPTransport; got {type(transport).__name__}.")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds; got {timeout!r}.")
        self.transport, self.timeout = transport, float(timeout)
        self.client_info = client_info or {"name": "interviewlib-client", "version": "0.1.0"}
        self.offered_version = protocol_version
        self.server_info: dict = {}
        self.server_capabilities: dict = {}
        self.protocol_version: str | None = None
        self.instructions: str | None = None
        self.transcript = transport.transcript
        self._ids = itertools.count(1)
        self._progress_ids = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def stdio(cls, command: Sequence[str], *, timeout: float = 10.0, env: dict | None = None,
              cwd: str | None = None, initialize: bool = True, **kwargs: Any) -> MCPClient:
        """Start ``command`` as a server subprocess and (by default) run the handshake."""
        client = cls(StdioTransport(command, env=env, cwd=cwd), timeout=timeout, **kwargs)
        return client._start(initialize)

    @classmethod
    def http(cls, url: str, *, timeout: float = 10.0, initialize: bool = True, **kwargs: Any) -> MCPClient:
        """Connect to a Streamable HTTP endpoint (loopback only) and (by default) run the handshake."""
        client = cls(HTTPTransport(url), timeout=timeout, **kwargs)
        return client._start(initialize)

    def _start(self, initialize: bool) -> MCPClient:
        if initialize:
            try:
                self.initialize()
            except BaseException:
                self.close()
                raise
        return self

    # ---- lifecycle ----------------------------------------------------------------------------
    def initialize(self) -> dict:
        """Run ``initialize`` -> check the revision -> ``notifications/initialized``; return the result."""
        res = self.request("initialize", {"protocolVersion": self.offered_version, "capabilities": {},
                                          "clientInfo": self.client_info})
        version = res.get("protocolVersion")
        if version not in SUPPORTED_PROTOCOL_VERSIONS:
            self.close()
            raise ProtocolVersionError(f"server chose protocol revision {version!r}; this client speaks "
                                       f"{SUPPORTED_PROTOCOL_VERSIONS} and disconnected.")
        self.protocol_version = version
        self.server_info = res.get("serverInfo", {})
        self.server_capabilities = res.get("capabilities", {})
        self.instructions = res.get("instructions")
        self.transport.protocol_version = version  # HTTP: MCP-Protocol-Version header from now on
        self.notify("notifications/initialized")
        return res

    def request(self, method: str, params: dict | None = None, *,
                on_notification: Callable[[dict], None] | None = None, timeout: float | None = None) -> dict:
        """Send one request and return its ``result``; a JSON-RPC error raises :class:`~.jsonrpc.RemoteError`."""
        with self._lock:
            msg_id = next(self._ids)
        msg = rpc.request(method, params, msg_id)
        wait = self.timeout if timeout is None else timeout
        try:
            reply = self.transport.request(msg, wait, on_notification or (lambda m: None))
        except MCPTimeoutError:
            self._cancel(msg_id, f"no response within {wait} s")
            raise
        if "error" in reply:
            e = reply["error"]
            raise rpc.RemoteError(e.get("code", rpc.INTERNAL_ERROR), e.get("message", ""), e.get("data"))
        return reply["result"]

    def notify(self, method: str, params: dict | None = None) -> None:
        """Send one notification."""
        self.transport.notify(rpc.notification(method, params), self.timeout)

    def _cancel(self, msg_id: int, reason: str) -> None:
        try:
            self.notify("notifications/cancelled", {"requestId": msg_id, "reason": reason})
        except (MCPConnectionError, MCPTimeoutError):
            pass

    def close(self) -> None:
        """Shut the connection down (stdio: close stdin, then SIGTERM, then SIGKILL)."""
        self.transport.close()

    def __enter__(self) -> MCPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- operations ---------------------------------------------------------------------------
    def ping(self) -> dict:
        """``ping``: an empty result proves the server is alive."""
        return self.request("ping")

    def list_tools(self) -> list[dict]:
        """``tools/list`` (all pages)."""
        return self._paginate("tools/list", "tools")

    def call_tool(self, name: str, arguments: dict | None = None, *,
                  on_progress: Callable[[dict], None] | None = None, timeout: float | None = None) -> dict:
        """``tools/call``; ``on_progress`` receives ``notifications/progress`` params while it runs."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str; got {name!r}.")
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments or {})}
        handler = None
        if on_progress is not None:
            token = f"progress-{next(self._progress_ids)}"
            params["_meta"] = {"progressToken": token}

            def handler(m: dict) -> None:
                if m.get("method") == "notifications/progress" and m["params"].get("progressToken") == token:
                    on_progress(m["params"])
        return self.request("tools/call", params, on_notification=handler, timeout=timeout)

    def list_resources(self) -> list[dict]:
        """``resources/list`` (all pages)."""
        return self._paginate("resources/list", "resources")

    def read_resource(self, uri: str) -> list[dict]:
        """``resources/read``: the list of contents (each with ``uri`` and ``text`` or ``blob``)."""
        return self.request("resources/read", {"uri": uri})["contents"]

    def list_prompts(self) -> list[dict]:
        """``prompts/list`` (all pages)."""
        return self._paginate("prompts/list", "prompts")

    def get_prompt(self, name: str, arguments: dict | None = None) -> dict:
        """``prompts/get``: description and messages."""
        return self.request("prompts/get", {"name": name, "arguments": dict(arguments or {})})

    def _paginate(self, method: str, key: str) -> list[dict]:
        items: list[dict] = []
        cursor = None
        for _ in range(1000):  # a server that never stops paginating is a bug; bound it
            res = self.request(method, {"cursor": cursor} if cursor else None)
            items.extend(res.get(key, []))
            cursor = res.get("nextCursor")
            if not cursor:
                return items
        raise rpc.RemoteError(rpc.INTERNAL_ERROR, f"{method}: more than 1000 pages")
