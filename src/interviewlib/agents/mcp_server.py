r"""A small MCP server framework: tools, resources, prompts, lifecycle and negotiation.

An MCP *server* exposes three kinds of primitive to a *client* (which lives inside a *host*
application such as an IDE or chat app, one client per server): **tools** (functions the model may
call, with a JSON Schema for their arguments), **resources** (data addressed by URI that the
application reads into context) and **prompts** (templates the user picks). Every connection goes
through the lifecycle ``initialize`` request -> response -> ``notifications/initialized``
notification -> operation; the initialize exchange negotiates the protocol revision and each side's
capabilities, and only negotiated features may be used afterwards.

This module is transport-free: :meth:`MCPServer.handle` maps one decoded JSON-RPC message and a
:class:`ServerSession` to the response (or None for notifications), and may emit notifications
(progress) through a ``send`` callback while a tool runs. :mod:`.mcp_transports` puts it on stdio
and on Streamable HTTP.

API: ``server = MCPServer("demo", "1.0")``; ``@server.tool(description=..., input_schema=...)`` on a
function returning str (text content), dict (``structuredContent`` plus a text copy) or a list of
content blocks, with an optional first parameter ``ctx`` (a :class:`ToolContext`, for progress);
``server.add_resource(uri, fn, name=...)``; ``server.add_prompt(name, fn, arguments=[...])``;
``reply = server.handle(message, server.new_session(), send=None)``.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from collections.abc import Callable
from typing import Any

from . import jsonrpc as rpc
from .json_schema import schema_errors

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "MCPServer",
    "RESOURCE_NOT_FOUND",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "ServerSession",
    "ToolContext",
    "ToolError",
]

SUPPORTED_PROTOCOL_VERSIONS = ("2025-06-18", "2025-11-25")  # oldest to newest; see q11-01 for why
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[-1]
RESOURCE_NOT_FOUND = -32002  # MCP 2025-06-18 and 2025-11-25, server/resources "Error Handling"

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")  # 2025-11-25 tool-name guidance
_OPERATIONS = {"tools/list": "tools", "tools/call": "tools", "resources/list": "resources", "resources/read":
               "resources", "resources/templates/list": "resources", "prompts/list": "prompts", "prompts/get": "prompts"}


class ToolError(Exception):
    """Raise inside a tool to report a *tool execution error* (``isError: true``) the model can read."""


class ServerSession:
    """Per-connection state: lifecycle phase, negotiated revision, the client's capabilities."""

    def __init__(self) -> None:
        self.state = "new"  # "new" -> "initializing" (answered initialize) -> "ready" (got initialized)
        self.protocol_version: str | None = None
        self.client_capabilities: dict = {}
        self.client_info: dict = {}


class ToolContext:
    """Handed to tools that take a first parameter named ``ctx``: progress and session info."""

    def __init__(self, session: ServerSession, progress_token: Any, send: Callable[[dict], None] | None):
        if not isinstance(session, ServerSession):
            raise TypeError(f"session must be a ServerSession; got {type(session).__name__}.")
        self.session, self.progress_token, self._send = session, progress_token, send
        self._last: float | None = None

    def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress`` if the caller asked for it (a ``progressToken`` in ``_meta``)."""
        if self._last is not None and progress <= self._last:
            raise ValueError(f"progress must increase with each notification; got {progress} after {self._last}.")
        self._last = progress
        if self.progress_token is None or self._send is None:
            return
        params = {"progressToken": self.progress_token, "progress": progress, "total": total, "message": message}
        self._send(rpc.notification("notifications/progress", {k: v for k, v in params.items() if v is not None}))


class MCPServer:
    """An MCP server: register tools/resources/prompts, then feed it messages via :meth:`handle`.

    Parameters
    ----------
    name, version : str
        Reported as ``serverInfo`` in the initialize result.
    instructions : str, optional
        Free-text hints for the host, returned at initialisation.
    max_message_bytes : int
        Transports refuse larger messages (JSON-RPC ``-32600``).

    Notes
    -----
    Speaks the MCP revisions in ``SUPPORTED_PROTOCOL_VERSIONS``. See question q11-01.

    Examples
    --------
    >>> s = MCPServer("demo", "1.0")
    >>> s.add_tool("echo", lambda text: text, description="Echo.")
    >>> sess = s.new_session()
    >>> s.handle(rpc.request("tools/list", None, 1), sess)["error"]["message"]
    'Server not initialized: send initialize first (got tools/list).'
    """

    def __init__(self, name: str, version: str = "0.1.0", *, instructions: str | None = None,
                 max_message_bytes: int = rpc.DEFAULT_MAX_BYTES):
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise ValueError(f"name must be 1-128 characters from [A-Za-z0-9_.-], e.g. 'sqlite-readonly'; got {name!r}.")
        if isinstance(max_message_bytes, bool) or not isinstance(max_message_bytes, int) or max_message_bytes < 64:
            raise ValueError(f"max_message_bytes must be an int >= 64; got {max_message_bytes!r}.")
        self.name, self.version, self.instructions = name, version, instructions
        self.max_message_bytes = max_message_bytes
        self._tools, self._resources, self._prompts = {}, {}, {}  # name/uri -> {"spec": ..., "fn": ...}
        self._lock = threading.Lock()

    # ---- registration -------------------------------------------------------------------------
    def add_tool(self, name: str, fn: Callable, *, description: str, input_schema: dict | None = None,
                 output_schema: dict | None = None, annotations: dict | None = None) -> None:
        """Register ``fn`` as tool ``name`` (``input_schema`` defaults to an object with no properties)."""
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise ValueError(f"name must be 1-128 characters from [A-Za-z0-9_.-] (MCP tool-name rules); got {name!r}.")
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {type(fn).__name__}.")
        schema = input_schema if input_schema is not None else {"type": "object", "properties": {}}
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ValueError(f"input_schema must be a JSON Schema with type 'object'; got {schema!r}.")
        spec: dict[str, Any] = {"name": name, "description": description, "inputSchema": schema}
        if output_schema is not None:
            spec["outputSchema"] = output_schema
        if annotations is not None:
            spec["annotations"] = dict(annotations)  # readOnlyHint, destructiveHint, ... (2025-03-26+)
        params = list(inspect.signature(fn).parameters)
        self._tools[name] = {"spec": spec, "fn": fn, "ctx": bool(params) and params[0] == "ctx"}

    def tool(self, name: str | None = None, **kwargs: Any) -> Callable:
        """Decorator form of :meth:`add_tool` (the name defaults to the function's name)."""
        def register(fn: Callable) -> Callable:
            self.add_tool(name or fn.__name__, fn, **kwargs)
            return fn
        return register

    def add_resource(self, uri: str, fn: Callable[[], str], *, name: str, description: str = "",
                     mime_type: str = "text/plain") -> None:
        """Register a text resource; ``fn()`` returns its current contents."""
        if not isinstance(uri, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", uri):
            raise ValueError(f"uri must be an absolute URI such as 'sqlite://schema'; got {uri!r}.")
        self._resources[uri] = {"spec": {"uri": uri, "name": name, "description": description,
                                         "mimeType": mime_type}, "fn": fn}

    def add_prompt(self, name: str, fn: Callable[..., str], *, description: str = "",
                   arguments: list[dict] | tuple = ()) -> None:
        """Register a prompt template; ``fn(**arguments)`` returns the user message text."""
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise ValueError(f"name must be 1-128 characters from [A-Za-z0-9_.-]; got {name!r}.")
        self._prompts[name] = {"spec": {"name": name, "description": description,
                                        "arguments": [dict(a) for a in arguments]}, "fn": fn}

    def capabilities(self) -> dict:
        """The server capabilities advertised at initialisation (only what is registered)."""
        caps = {"tools": {"listChanged": False}, "resources": {"subscribe": False, "listChanged": False},
                "prompts": {"listChanged": False}}
        return {k: v for k, v in caps.items() if getattr(self, f"_{k}")}

    def new_session(self) -> ServerSession:
        """State for one new connection."""
        return ServerSession()

    # ---- dispatch -----------------------------------------------------------------------------
    def handle_bytes(self, data: bytes, session: ServerSession, send: Callable[[dict], None] | None = None) -> dict | None:
        """Decode one framed message and :meth:`handle` it; undecodable input gets an error response."""
        try:
            msg = rpc.decode(data, max_bytes=self.max_message_bytes)
        except rpc.ProtocolError as exc:
            return rpc.error(exc.msg_id, exc.code, exc.message)
        return self.handle(msg, session, send)

    def handle(self, msg: dict, session: ServerSession, send: Callable[[dict], None] | None = None) -> dict | None:
        """Answer one decoded message (None for notifications and responses)."""
        if not isinstance(msg, dict):
            raise TypeError(f"msg must be a decoded JSON-RPC message (dict); got {type(msg).__name__}.")
        if not isinstance(session, ServerSession):
            raise TypeError(f"session must be a ServerSession; got {type(session).__name__}.")
        if "method" not in msg:
            return None  # a response to a server->client request; this server sends none
        method, params = msg["method"], msg.get("params") or {}
        if "id" not in msg:
            if method == "notifications/initialized" and session.state == "initializing":
                session.state = "ready"
            return None  # notifications/cancelled and unknown notifications: nothing to answer
        msg_id = msg["id"]
        try:
            return rpc.result(msg_id, self._dispatch(method, params, session, send))
        except rpc.ProtocolError as exc:
            return rpc.error(msg_id, exc.code, exc.message, exc.data)
        except Exception as exc:  # a bug in a handler must not kill the connection
            return rpc.error(msg_id, rpc.INTERNAL_ERROR, f"Internal error: {type(exc).__name__}: {exc}")

    def _dispatch(self, method: str, params: dict, session: ServerSession, send: Callable | None) -> dict:
        if method == "initialize":
            return self._initialize(params, session)
        if method == "ping":
            return {}
        if method not in _OPERATIONS or _OPERATIONS[method] not in self.capabilities():
            raise rpc.ProtocolError(rpc.METHOD_NOT_FOUND, f"Method not found: {method}")
        if session.state != "ready":
            raise rpc.ProtocolError(rpc.INVALID_REQUEST, f"Server not initialized: send initialize first (got {method}).")
        if method == "tools/list":
            return {"tools": [t["spec"] for t in self._tools.values()]}
        if method == "tools/call":
            return self._call_tool(params, session, send)
        if method == "resources/list":
            return {"resources": [r["spec"] for r in self._resources.values()]}
        if method == "resources/templates/list":
            return {"resourceTemplates": []}
        if method == "resources/read":
            uri = params.get("uri")
            if uri not in self._resources:
                raise rpc.ProtocolError(RESOURCE_NOT_FOUND, "Resource not found", {"uri": uri})
            r = self._resources[uri]
            return {"contents": [{"uri": uri, "mimeType": r["spec"]["mimeType"], "text": str(r["fn"]())}]}
        if method == "prompts/list":
            return {"prompts": [p["spec"] for p in self._prompts.values()]}
        return self._get_prompt(params)

    def _initialize(self, params: dict, session: ServerSession) -> dict:
        if session.state != "new":
            raise rpc.ProtocolError(rpc.INVALID_REQUEST, "Already initialized: initialize may be sent only once.")
        version, caps, info = params.get("protocolVersion"), params.get("capabilities"), params.get("clientInfo")
        if not isinstance(version, str) or not isinstance(caps, dict) or not isinstance(info, dict):
            raise rpc.ProtocolError(rpc.INVALID_PARAMS, "Invalid params: initialize needs protocolVersion (str), "
                                    "capabilities (object) and clientInfo (object).")
        with self._lock:
            session.protocol_version = version if version in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
            session.client_capabilities, session.client_info = caps, info
            session.state = "initializing"
        out: dict[str, Any] = {"protocolVersion": session.protocol_version, "capabilities": self.capabilities(),
                               "serverInfo": {"name": self.name, "version": self.version}}
        if self.instructions:
            out["instructions"] = self.instructions
        return out

    def _call_tool(self, params: dict, session: ServerSession, send: Callable | None) -> dict:
        name, args = params.get("name"), params.get("arguments", {})
        if name not in self._tools:
            raise rpc.ProtocolError(rpc.INVALID_PARAMS, f"Unknown tool: {name}")
        if not isinstance(args, dict):
            raise rpc.ProtocolError(rpc.INVALID_PARAMS, "Invalid params: arguments must be an object.")
        tool = self._tools[name]
        problems = schema_errors(args, tool["spec"]["inputSchema"])
        if problems:
            text = f"Invalid arguments for tool {name}: " + "; ".join(problems)
            # 2025-06-18 lists "Invalid arguments" under protocol errors (and, ambiguously, "Invalid
            # input data" under execution errors); we read it as a protocol error there ...
            if session.protocol_version == "2025-06-18":
                raise rpc.ProtocolError(rpc.INVALID_PARAMS, text)
            return _error_result(text)  # ... 2025-11-25 makes it a tool execution error (SEP-1303)
        token = (params.get("_meta") or {}).get("progressToken")
        try:
            out = tool["fn"](ToolContext(session, token, send), **args) if tool["ctx"] else tool["fn"](**args)
        except ToolError as exc:
            return _error_result(str(exc))
        except Exception as exc:
            return _error_result(f"{type(exc).__name__}: {exc}")
        return self._tool_result(out, tool["spec"])

    def _tool_result(self, out: Any, spec: dict) -> dict:
        if isinstance(out, str):
            return {"content": [{"type": "text", "text": out}], "isError": False}
        if isinstance(out, dict):
            if "outputSchema" in spec and schema_errors(out, spec["outputSchema"]):
                raise rpc.ProtocolError(rpc.INTERNAL_ERROR, f"Tool {spec['name']} broke its outputSchema.")
            text = json.dumps(out, ensure_ascii=False)  # text copy for clients without structuredContent
            return {"content": [{"type": "text", "text": text}], "structuredContent": out, "isError": False}
        if isinstance(out, list) and all(isinstance(b, dict) and "type" in b for b in out):
            return {"content": out, "isError": False}
        raise rpc.ProtocolError(rpc.INTERNAL_ERROR, f"Tool {spec['name']} returned {type(out).__name__}; "
                                "expected str, dict or a list of content blocks.")

    def _get_prompt(self, params: dict) -> dict:
        name, args = params.get("name"), params.get("arguments") or {}
        if name not in self._prompts:
            raise rpc.ProtocolError(rpc.INVALID_PARAMS, f"Unknown prompt: {name}")
        prompt = self._prompts[name]
        missing = [a["name"] for a in prompt["spec"]["arguments"] if a.get("required") and a["name"] not in args]
        if missing or not all(isinstance(v, str) for v in args.values()):
            raise rpc.ProtocolError(rpc.INVALID_PARAMS, f"Invalid params: prompt {name} needs string arguments "
                                    f"{[a['name'] for a in prompt['spec']['arguments']]}; missing {missing}.")
        text = prompt["fn"](**args)
        return {"description": prompt["spec"]["description"],
                "messages": [{"role": "user", "content": {"type": "text", "text": text}}]}


def _error_result(text: str) -> dict:
    return {"content": [{"type": "text", "text": text}], "isError": True}
