"""Server transports for :class:`~.mcp_server.MCPServer`: stdio and Streamable HTTP on 127.0.0.1.

**stdio** (every MCP revision): the host starts the server as a subprocess; each JSON-RPC message is
one line of UTF-8 JSON on the server's stdin (client -> server) or stdout (server -> client), and
stderr is free for logs. A line longer than the limit is refused (``-32600``) and skipped, so one
bad message never kills the connection.

**Streamable HTTP** (since MCP 2025-03-26, replacing HTTP+SSE): one endpoint path. The client
POSTs every message; a request is answered with ``application/json`` or, when the server has
notifications to send first (progress), with a ``text/event-stream`` whose last event is the
response; a notification or response gets ``202 Accepted``. GET would open a server-initiated SSE
stream; this server has nothing to push and answers 405, which the spec allows. The initialize
response carries an ``Mcp-Session-Id`` (from ``secrets``: unguessable); later requests must echo
it (missing: 400, unknown or deleted: 404); DELETE ends the session. Against DNS rebinding the
server validates ``Origin`` (invalid: 403, a MUST of the spec) and ``Host`` (421, as the
official SDK does), and binds 127.0.0.1 only.

API: ``serve_stdio(server, stdin=sys.stdin.buffer, stdout=sys.stdout.buffer)``;
``with StreamableHTTPServer(server) as http: http.url`` (port 0 picks a free port).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO

from . import jsonrpc as rpc
from .mcp_server import SUPPORTED_PROTOCOL_VERSIONS, MCPServer, ServerSession

__all__ = ["StreamableHTTPServer", "serve_stdio"]

_LOOPBACK = ("127.0.0.1", "::1")


def serve_stdio(server: MCPServer, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """Serve one client over newline-delimited JSON until stdin closes.

    Parameters
    ----------
    server : MCPServer
        The server to run.
    stdin, stdout : binary file objects, optional
        Default to the process's own stdin/stdout (the stdio transport).

    Notes
    -----
    Messages are handled one at a time, in order; progress notifications a tool emits are
    written before its response. See question q11-01.
    """
    if not isinstance(server, MCPServer):
        raise TypeError(f"server must be an MCPServer; got {type(server).__name__}.")
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout.buffer
    limit = server.max_message_bytes
    session = server.new_session()

    def send(msg: dict) -> None:
        stdout.write(rpc.encode(msg))
        stdout.flush()

    while True:
        line = stdin.readline(limit + 1)
        if not line:
            return  # EOF: the client closed our stdin, which is how stdio shuts down
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the oversized line
                line = stdin.readline(limit + 1)
            send(rpc.error(None, rpc.INVALID_REQUEST, f"Message too large: more than {limit} bytes."))
            continue
        if not line.strip():
            continue
        reply = server.handle_bytes(line.rstrip(b"\r\n"), session, send)
        if reply is not None:
            send(reply)


class StreamableHTTPServer:
    """Serve an :class:`MCPServer` over Streamable HTTP on a loopback address, in a thread.

    Parameters
    ----------
    server : MCPServer
        The server to expose.
    host : str
        ``"127.0.0.1"`` (default) or ``"::1"``; other addresses are refused.
    port : int
        0 picks a free port (read it from ``url``).
    path : str
        The single MCP endpoint path.
    allowed_origins : sequence of str, optional
        Extra origins accepted besides this server's own loopback origins.

    Examples
    --------
    >>> with StreamableHTTPServer(MCPServer("demo")) as http:
    ...     http.url.startswith("http://127.0.0.1:")
    True

    Notes
    -----
    See question q11-01.
    """

    def __init__(self, server: MCPServer, *, host: str = "127.0.0.1", port: int = 0, path: str = "/mcp",
                 allowed_origins: tuple[str, ...] | list[str] = ()):
        if not isinstance(server, MCPServer):
            raise TypeError(f"server must be an MCPServer; got {type(server).__name__}.")
        if host not in _LOOPBACK:
            raise ValueError(f"host must be a loopback address {_LOOPBACK} (a local MCP server must not listen "
                             f"on other interfaces); got {host!r}.")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
            raise ValueError(f"port must be an int in [0, 65535]; got {port!r}.")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path must start with '/'; got {path!r}.")
        self.server, self.path = server, path
        self.sessions: dict[str, ServerSession] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        hostport = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        self.allowed_hosts = {hostport, f"localhost:{self.port}"}
        self.allowed_origins = {f"http://{h}" for h in self.allowed_hosts} | set(allowed_origins)
        self.url = f"http://{hostport}{path}"
        self._thread: threading.Thread | None = None

    def start(self) -> StreamableHTTPServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> StreamableHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _make_handler(owner: StreamableHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test and notebook output clean
            pass

        def _reply(self, status: int, body: bytes = b"", ctype: str = "application/json",
                   headers: dict | None = None) -> None:
            self.send_response(status)
            if body:
                self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json_error(self, status: int, code: int, message: str, msg_id: object = None) -> None:
            self._reply(status, json.dumps(rpc.error(msg_id, code, message)).encode())

        def _guard(self) -> bool:
            """Path, Host and Origin checks shared by every method; False once an error was sent."""
            if self.path.split("?")[0] != owner.path:
                self._reply(404, b"Not Found", "text/plain")
                return False
            if self.headers.get("Host") not in owner.allowed_hosts:
                self._reply(421, b"Invalid Host header", "text/plain")
                return False
            origin = self.headers.get("Origin")
            if origin is not None and origin not in owner.allowed_origins:
                self._reply(403, b"Forbidden: invalid Origin header", "text/plain")
                return False
            return True

        def _session(self, required: bool) -> tuple[str | None, ServerSession | None, bool]:
            sid = self.headers.get("Mcp-Session-Id")
            if sid is None:
                if required:
                    self._json_error(400, rpc.INVALID_REQUEST, "Bad Request: missing Mcp-Session-Id header.")
                return None, None, not required
            with owner._lock:
                session = owner.sessions.get(sid)
            if session is None:
                self._json_error(404, rpc.INVALID_REQUEST, "Session not found: start a new one with initialize.")
                return sid, None, False
            return sid, session, True

        def do_GET(self) -> None:
            if self._guard():
                self._reply(405, b"Method Not Allowed: this server opens no server-initiated stream",
                            "text/plain", {"Allow": "POST, DELETE"})

        def do_DELETE(self) -> None:
            if self._guard():
                sid, session, ok = self._session(required=True)
                if ok:
                    with owner._lock:
                        owner.sessions.pop(sid, None)
                    self._reply(204)

        def do_POST(self) -> None:
            if not self._guard():
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > owner.server.max_message_bytes:
                self.close_connection = True  # do not read a body we refuse
                return self._json_error(413, rpc.INVALID_REQUEST, f"Message too large: {length} bytes.")
            body = self.rfile.read(length)
            try:
                msg = rpc.decode(body, max_bytes=owner.server.max_message_bytes)
            except rpc.ProtocolError as exc:
                return self._json_error(400, exc.code, exc.message, exc.msg_id)
            version = self.headers.get("MCP-Protocol-Version")
            if version is not None and version not in SUPPORTED_PROTOCOL_VERSIONS:
                return self._json_error(400, rpc.INVALID_REQUEST, f"Unsupported MCP-Protocol-Version: {version}")
            if msg.get("method") == "initialize":
                sid, session = secrets.token_urlsafe(32), owner.server.new_session()
            else:
                sid, session, ok = self._session(required=True)
                if not ok:
                    return
            if "id" not in msg or "method" not in msg:  # notification or response
                owner.server.handle(msg, session)
                return self._reply(202)
            sent: list[dict] = []
            reply = owner.server.handle(msg, session, sent.append)
            headers = {}
            if msg.get("method") == "initialize" and "result" in reply:
                with owner._lock:
                    owner.sessions[sid] = session
                headers["Mcp-Session-Id"] = sid  # only a successful initialize opens a session
            if sent and "text/event-stream" in (self.headers.get("Accept") or ""):
                events = b"".join(b"event: message\ndata: " + json.dumps(m).encode() + b"\n\n" for m in sent + [reply])
                return self._reply(200, events, "text/event-stream", headers)
            self._reply(200, json.dumps(reply).encode(), "application/json", headers)

    return Handler
