"""Client-side transports for :class:`~.mcp_client.MCPClient`: a stdio subprocess and Streamable HTTP.

Both expose ``request(msg, timeout, on_notification) -> response``, ``notify(msg, timeout)``,
``close()`` and a ``transcript`` list of ``(direction, message)`` pairs (``"->"`` sent,
``"<-"`` received).
"""

from __future__ import annotations

import collections
import json
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence

from . import jsonrpc as rpc

__all__ = ["HTTPTransport", "MCPConnectionError", "MCPTimeoutError", "StdioTransport"]

_EOF = object()


class MCPConnectionError(ConnectionError):
    """The server is gone (process exited, connection refused, session lost)."""


class MCPTimeoutError(TimeoutError):
    """No response within the timeout (the request has been cancelled)."""


def _label(msg: dict) -> str:
    """``tools/call 'nap' (id 2)``: what a timeout or crash message should name."""
    name = (msg.get("params") or {}).get("name")
    return f"{msg.get('method')}{f' {name!r}' if isinstance(name, str) else ''} (id {msg.get('id')})"


def _answer_server_request(msg: dict) -> dict:
    """Answer a server->client request: ping is mandatory, everything else was never negotiated."""
    if msg["method"] == "ping":
        return rpc.result(msg["id"], {})
    return rpc.error(msg["id"], rpc.METHOD_NOT_FOUND, f"Method not found: {msg['method']} (capability not declared)")


class StdioTransport:
    """Run an MCP server as a subprocess and talk newline-delimited JSON over its stdin/stdout."""

    def __init__(self, command: Sequence[str], *, env: dict | None = None, cwd: str | None = None):
        if isinstance(command, str) or not isinstance(command, Sequence) or not command \
                or not all(isinstance(c, str) for c in command):
            raise TypeError(f"command must be a non-empty list of str (argv); got {command!r}.")
        self.command = list(command)
        self.transcript: list[tuple[str, dict]] = []
        self.protocol_version: str | None = None
        self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env, cwd=cwd, bufsize=0)
        self._inbox: queue.Queue = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=20)
        self._call = threading.Lock()
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._readers:
            t.start()

    def _read_stdout(self) -> None:
        for line in self._proc.stdout:
            try:
                self._inbox.put(rpc.decode(line))
            except rpc.ProtocolError as exc:  # a server writing junk to stdout breaks the spec
                self._stderr.append(f"[client] undecodable line from server: {exc}")
        self._inbox.put(_EOF)

    def _read_stderr(self) -> None:
        for line in self._proc.stderr:
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _dead(self, waiting_for: str) -> MCPConnectionError:
        try:
            code = self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        tail = " | ".join(list(self._stderr)[-5:]) or "(empty)"
        return MCPConnectionError(f"MCP server {self.command[0]!r} exited (code {code}) {waiting_for}; "
                                  f"stderr tail: {tail}")

    def _write(self, msg: dict) -> None:
        try:
            self._proc.stdin.write(rpc.encode(msg))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise self._dead(f"before {msg.get('method', 'a message')} could be sent") from None
        self.transcript.append(("->", msg))

    def notify(self, msg: dict, timeout: float) -> None:
        with self._call:
            self._write(msg)

    def request(self, msg: dict, timeout: float, on_notification: Callable[[dict], None]) -> dict:
        with self._call:
            self._write(msg)
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                try:
                    item = self._inbox.get(timeout=max(left, 0.0)) if left > 0 else self._inbox.get_nowait()
                except queue.Empty:
                    raise MCPTimeoutError(f"{_label(msg)}: no response within {timeout} s") from None
                if item is _EOF:
                    self._inbox.put(_EOF)  # later calls fail fast too
                    raise self._dead(f"while waiting for the response to {_label(msg)}")
                self.transcript.append(("<-", item))
                if "method" in item and "id" in item:
                    self._write(_answer_server_request(item))
                elif "method" in item:
                    on_notification(item)
                elif item.get("id") == msg["id"]:
                    return item
                # else: a late response to a request we already gave up on; drop it

    def close(self) -> None:
        """stdio shutdown as the spec orders it: close stdin, wait, SIGTERM, wait, SIGKILL."""
        proc = self._proc
        if proc.poll() is None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            for step in (lambda: None, proc.terminate, proc.kill):
                step()
                try:
                    proc.wait(timeout=2)
                    break
                except subprocess.TimeoutExpired:
                    continue
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        for t in self._readers:
            t.join(timeout=2)


class HTTPTransport:
    """POST each message to a Streamable HTTP endpoint; parse JSON or SSE answers."""

    _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

    def __init__(self, url: str):
        if not isinstance(url, str):
            raise TypeError(f"url must be a str; got {type(url).__name__}.")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"url must be http:// on a loopback host (127.0.0.1, localhost, ::1); got {url!r}.")
        self.url = url
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.transcript: list[tuple[str, dict]] = []

    def _post(self, msg: dict, timeout: float) -> tuple[int, str, bytes]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        req = urllib.request.Request(self.url, data=json.dumps(msg).encode(), headers=headers, method="POST")
        self.transcript.append(("->", msg))
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                if msg.get("method") == "initialize" and resp.headers.get("Mcp-Session-Id"):
                    self.session_id = resp.headers["Mcp-Session-Id"]
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code == 404 and self.session_id:
                raise MCPConnectionError(f"HTTP 404: session {self.session_id[:8]}... is gone; "
                                         "start a new client (initialize again).") from None
            try:
                reply = json.loads(body)
            except ValueError:
                reply = None
            if isinstance(reply, dict) and "error" in reply:
                return exc.code, "application/json", body
            raise MCPConnectionError(f"HTTP {exc.code} from {self.url}: {body[:200]!r}") from None
        except (TimeoutError, OSError) as exc:
            if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise MCPTimeoutError(f"{_label(msg)}: no HTTP response within {timeout} s") from None
            raise MCPConnectionError(f"cannot reach {self.url}: {exc}") from None

    def notify(self, msg: dict, timeout: float) -> None:
        status, _, body = self._post(msg, timeout)
        if status != 202:
            raise MCPConnectionError(f"notification {msg['method']} got HTTP {status}: {body[:200]!r}")

    def request(self, msg: dict, timeout: float, on_notification: Callable[[dict], None]) -> dict:
        status, ctype, body = self._post(msg, timeout)
        if ctype.startswith("text/event-stream"):
            messages = [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")]
        else:
            messages = [json.loads(body)]
        for item in messages:
            self.transcript.append(("<-", item))
            if "method" in item and "id" not in item:
                on_notification(item)
            elif item.get("id") == msg["id"] or "error" in item:
                return item
        raise MCPConnectionError(f"{msg['method']}: HTTP {status} answer held no response for id {msg['id']}")

    def close(self) -> None:
        """End the session with DELETE (best effort)."""
        if self.session_id:
            req = urllib.request.Request(self.url, method="DELETE", headers={"Mcp-Session-Id": self.session_id})
            try:
                self._opener.open(req, timeout=2).close()
            except (urllib.error.URLError, OSError):
                pass
            self.session_id = None
