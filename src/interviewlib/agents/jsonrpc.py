"""JSON-RPC 2.0 messages as MCP uses them: building, classifying, framing and error codes.

MCP (every revision) encodes all traffic as JSON-RPC 2.0 objects: a *request* has an ``id`` and a
``method``, a *notification* has a ``method`` and no ``id`` (it gets no answer), a *response*
carries the request's ``id`` and exactly one of ``result`` or ``error``. MCP adds two rules to
JSON-RPC: a request ``id`` must not be null and must be unique within a session, and since
revision 2025-06-18 a message is a single object (JSON-RPC batches were removed). On stdio each
message is one line of UTF-8 JSON; ``json.dumps`` escapes newlines inside strings, so the line
never contains an embedded newline.

Errors a peer sends back are :class:`RemoteError`; a message we cannot accept is
:class:`ProtocolError` (a ``ValueError``) carrying the JSON-RPC code to answer with.

API: ``request(method, params, id)``, ``notification(method, params)``, ``result(id, value)``,
``error(id, code, message, data)``, ``encode(msg) -> bytes`` (one line), ``decode(data,
max_bytes=...) -> dict``, ``kind(msg) -> "request" | "notification" | "response"``.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "ProtocolError",
    "RemoteError",
    "decode",
    "encode",
    "error",
    "kind",
    "notification",
    "request",
    "result",
]

PARSE_ERROR = -32700  # the bytes are not JSON
INVALID_REQUEST = -32600  # JSON, but not a valid JSON-RPC message (or not acceptable now)
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB per message: generous for tool calls, bounded against abuse

_METHOD = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$./-]*$")  # "tools/call", "notifications/progress"


class ProtocolError(ValueError):
    """A message that cannot be accepted; ``code`` is the JSON-RPC error code to answer with."""

    def __init__(self, code: int, message: str, data: Any = None, msg_id: Any = None):
        super().__init__(message)
        self.code, self.message, self.data, self.msg_id = code, message, data, msg_id


class RemoteError(RuntimeError):
    """The peer answered a request with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"[{code}] {message}")
        self.code, self.message, self.data = code, message, data


def _check_method(method: Any) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method must be a str such as 'tools/list'; got {type(method).__name__}.")
    if not _METHOD.match(method):
        raise ValueError(f"method must be a slash-separated name such as 'tools/list'; got {method!r}.")
    return method


def _check_params(params: Any) -> None:
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params must be a dict (MCP uses by-name params) or None; got {type(params).__name__}.")


def _check_id(msg_id: Any) -> None:
    if isinstance(msg_id, bool) or not isinstance(msg_id, (str, int)):
        raise TypeError(f"id must be a str or int (MCP forbids null ids); got {type(msg_id).__name__}.")


def request(method: str, params: dict | None, id: int | str) -> dict:
    """Build a request object.

    Parameters
    ----------
    method : str
        Method name, e.g. ``"tools/call"``.
    params : dict or None
        By-name parameters (omitted from the message when None).
    id : int or str
        Request id, unique within the session; never None in MCP.

    Returns
    -------
    dict
        The request, ready for :func:`encode`.

    Examples
    --------
    >>> request("tools/list", None, 1)
    {'jsonrpc': '2.0', 'id': 1, 'method': 'tools/list'}

    Notes
    -----
    See question q11-01.
    """
    _check_method(method)
    _check_params(params)
    _check_id(id)
    msg = {"jsonrpc": "2.0", "id": id, "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def notification(method: str, params: dict | None = None) -> dict:
    """Build a notification (a request without ``id``; the peer never answers it).

    Examples
    --------
    >>> notification("notifications/initialized")
    {'jsonrpc': '2.0', 'method': 'notifications/initialized'}
    """
    _check_method(method)
    _check_params(params)
    msg = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    return msg


def result(id: int | str, value: dict) -> dict:
    """Build a successful response to request ``id``.

    Examples
    --------
    >>> result(7, {})
    {'jsonrpc': '2.0', 'id': 7, 'result': {}}
    """
    _check_id(id)
    if not isinstance(value, dict):
        raise TypeError(f"value must be a dict (MCP results are objects); got {type(value).__name__}.")
    return {"jsonrpc": "2.0", "id": id, "result": value}


def error(id: int | str | None, code: int, message: str, data: Any = None) -> dict:
    """Build an error response; ``id`` is None only when the request's id could not be read.

    Examples
    --------
    >>> error(None, PARSE_ERROR, "Parse error")
    {'jsonrpc': '2.0', 'id': None, 'error': {'code': -32700, 'message': 'Parse error'}}
    """
    if id is not None:
        _check_id(id)
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"code must be an int; got {type(code).__name__}.")
    if not isinstance(message, str):
        raise TypeError(f"message must be a str; got {type(message).__name__}.")
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": id, "error": err}


def encode(msg: dict) -> bytes:
    r"""Serialise one message as a single UTF-8 line ending in ``\n`` (the stdio framing).

    Examples
    --------
    >>> encode(notification("notifications/progress", {"message": "a\nb"}))
    b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"message":"a\\nb"}}\n'
    """
    if not isinstance(msg, dict):
        raise TypeError(f"msg must be a dict (one JSON-RPC message); got {type(msg).__name__}.")
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


def kind(msg: dict) -> str:
    """Classify a decoded message as ``"request"``, ``"notification"`` or ``"response"``.

    Examples
    --------
    >>> kind({"jsonrpc": "2.0", "id": 3, "result": {}})
    'response'
    """
    if not isinstance(msg, dict):
        raise TypeError(f"msg must be a dict; got {type(msg).__name__}.")
    if "method" in msg:
        return "request" if "id" in msg else "notification"
    if "id" in msg and ("result" in msg) != ("error" in msg):
        return "response"
    raise ValueError(f"msg is not a JSON-RPC request, notification or response; got keys {sorted(msg)}.")


def decode(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict:
    """Parse and validate one message; raise :class:`ProtocolError` with the code to answer.

    Parameters
    ----------
    data : bytes or str
        One framed message (a stdio line or an HTTP body).
    max_bytes : int
        Larger messages are refused before parsing (``INVALID_REQUEST``).

    Raises
    ------
    ProtocolError
        ``PARSE_ERROR`` for bytes that are not UTF-8 JSON, ``INVALID_REQUEST`` for anything that
        is not a single well-formed JSON-RPC 2.0 object (batches included), or an oversized message.

    Examples
    --------
    >>> decode(b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}')
    {'jsonrpc': '2.0', 'id': 1, 'method': 'ping'}
    >>> decode(b'{"jsonrpc": "2.0", "id": 1,')
    Traceback (most recent call last):
    ...
    interviewlib.agents.jsonrpc.ProtocolError: Parse error: ...
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"data must be bytes or str; got {type(data).__name__}.")
    if len(data) > max_bytes:
        raise ProtocolError(INVALID_REQUEST, f"Message too large: {len(data)} bytes > limit {max_bytes}.")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(PARSE_ERROR, f"Parse error: {exc}") from None
    if isinstance(obj, list):
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: JSON-RPC batches are not supported (removed in MCP 2025-06-18).")
    if not isinstance(obj, dict):
        raise ProtocolError(INVALID_REQUEST, f"Invalid Request: expected a JSON object; got {type(obj).__name__}.")
    msg_id = obj.get("id")
    if obj.get("jsonrpc") != "2.0":
        raise ProtocolError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0".', msg_id=_safe_id(msg_id))
    if "id" in obj and (isinstance(msg_id, bool) or not isinstance(msg_id, (str, int))) and "method" in obj:
        raise ProtocolError(INVALID_REQUEST, "Invalid Request: id must be a string or integer (not null).")
    if "method" in obj:
        if not isinstance(obj["method"], str):
            raise ProtocolError(INVALID_REQUEST, "Invalid Request: method must be a string.", msg_id=_safe_id(msg_id))
        if "params" in obj and not isinstance(obj["params"], dict):
            raise ProtocolError(INVALID_REQUEST, "Invalid Request: params must be an object.", msg_id=_safe_id(msg_id))
        return obj
    if "id" in obj and ("result" in obj) != ("error" in obj):
        return obj
    raise ProtocolError(INVALID_REQUEST, "Invalid Request: neither a request, a notification nor a response.")


def _safe_id(msg_id: Any) -> Any:
    return msg_id if isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool) else None
