"""The agent loop: a policy picks the next action, the host runs tools through MCP clients.

No language model can run or be downloaded here, so the loop never calls one: it takes any
*policy*, a callable ``policy(messages, tools) -> action``, where ``messages`` is the conversation so
far (chat format, below), ``tools`` is the list of tool definitions gathered from the servers, and
the action is :class:`ToolCall` (run a tool, append its result, ask again) or :class:`FinalAnswer`
(stop). :class:`ScriptedPolicy` replays a fixed script, which is how the book drives the loop; a
real model plugs in as a policy that sends ``to_openai_messages(messages)`` and
``openai_tools(tools)`` to a chat-completions endpoint and returns ``action_from_openai(reply)``.

Messages (OpenAI-like, with arguments kept as dicts)::

    {"role": "system" | "user", "content": str}
    {"role": "assistant", "content": None, "tool_calls": [{"id", "name", "arguments"}]}
    {"role": "tool", "tool_call_id", "name", "content": str, "is_error": bool, "structured": dict | None}
    {"role": "assistant", "content": str}                       # the final answer

API: ``run_agent(policy, question, servers, *, max_steps=8, system=None) -> AgentResult``, where
``servers`` is one client or a ``{name: client}`` dict (tool names then become ``name__tool``); a
client is anything with ``list_tools()`` and ``call_tool(name, arguments)`` (:class:`~.mcp_client.MCPClient`).
Tool failures (an error result, a JSON-RPC error, a dead server) become tool messages with
``is_error=True`` so the policy can recover; the loop itself never raises for them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from ._client_transports import MCPConnectionError, MCPTimeoutError
from .jsonrpc import RemoteError

__all__ = ["AgentResult", "FinalAnswer", "ScriptedPolicy", "ToolCall", "action_from_openai", "openai_tools",
           "run_agent", "to_openai_messages"]


@dataclass(frozen=True)
class ToolCall:
    """Action: call tool ``name`` with ``arguments`` (``id`` is filled in by the loop when empty)."""

    name: str
    arguments: dict = field(default_factory=dict)
    id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOOL_NAME.match(self.name):
            raise ValueError(f"name must be a tool name of 1-128 characters from [A-Za-z0-9_.-]; got {self.name!r}.")
        if not isinstance(self.arguments, dict):
            raise TypeError(f"arguments must be a dict; got {type(self.arguments).__name__}.")


@dataclass(frozen=True)
class FinalAnswer:
    """Action: stop and answer ``text``."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a str; got {type(self.text).__name__}.")


Action = Union[ToolCall, FinalAnswer]
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
Policy = Callable[[list, list], Action]


@dataclass
class AgentResult:
    """Outcome of :func:`run_agent`: the answer (None if the step budget ran out) and the transcript."""

    answer: str | None
    messages: list[dict]
    steps: int
    stop_reason: str  # "final" or "max_steps"

    @property
    def tool_calls(self) -> list[dict]:
        """Every tool call the policy made, in order."""
        return [c for m in self.messages if m["role"] == "assistant" for c in m.get("tool_calls") or ()]


class ScriptedPolicy:
    """A policy that replays ``steps`` in order; a step is an action or ``f(messages, tools) -> action``.

    Callable steps let the script read earlier tool results (the way a model would), e.g.
    ``lambda msgs, tools: FinalAnswer(msgs[-1]["content"])``.

    Examples
    --------
    >>> p = ScriptedPolicy([ToolCall("add", {"a": 1, "b": 2}), lambda m, t: FinalAnswer(m[-1]["content"])])
    >>> p([], [])
    ToolCall(name='add', arguments={'a': 1, 'b': 2}, id='')
    >>> p([{"role": "tool", "content": "3"}], [])
    FinalAnswer(text='3')
    """

    def __init__(self, steps: Sequence[Action | Callable[[list, list], Action]]):
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
            raise TypeError(f"steps must be a sequence of actions or callables; got {type(steps).__name__}.")
        for i, s in enumerate(steps):
            if not (isinstance(s, (ToolCall, FinalAnswer)) or callable(s)):
                raise TypeError(f"steps[{i}] must be a ToolCall, FinalAnswer or callable; got {type(s).__name__}.")
        self.steps = list(steps)
        self.position = 0

    def __call__(self, messages: list, tools: list) -> Action:
        if self.position >= len(self.steps):
            raise RuntimeError(f"ScriptedPolicy ran out of steps after {len(self.steps)} actions.")
        step = self.steps[self.position]
        self.position += 1
        return step(messages, tools) if callable(step) else step


def _gather_tools(servers: Any) -> tuple[list[dict], dict[str, tuple[Any, str]]]:
    named = servers if isinstance(servers, Mapping) else {"": servers}
    tools, route = [], {}
    for server_name, client in named.items():
        for t in client.list_tools():
            exposed = f"{server_name}__{t['name']}" if server_name else t["name"]
            tools.append({**t, "name": exposed})
            route[exposed] = (client, t["name"])
    return tools, route


def _tool_message(call_id: str, name: str, result: dict) -> dict:
    text = "\n".join(b.get("text", json.dumps(b)) if b.get("type") == "text" else json.dumps(b)
                     for b in result.get("content", []))
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": text,
            "is_error": bool(result.get("isError")), "structured": result.get("structuredContent")}


def run_agent(policy: Policy, question: str, servers: Any, *, max_steps: int = 8,
              system: str | None = None) -> AgentResult:
    """Run the loop: ask the policy, execute tool calls through MCP, stop at a final answer.

    Parameters
    ----------
    policy : callable
        ``policy(messages, tools) -> ToolCall | FinalAnswer``.
    question : str
        The user's message.
    servers : client or dict of str to client
        Where tools come from; a client has ``list_tools()`` and ``call_tool(name, arguments)``.
    max_steps : int
        Most policy calls before giving up (``stop_reason="max_steps"``, ``answer=None``).
    system : str, optional
        A system message placed first.

    Returns
    -------
    AgentResult

    Notes
    -----
    See questions q11-02 and q11-04.
    """
    if not callable(policy):
        raise TypeError(f"policy must be callable (messages, tools) -> action; got {type(policy).__name__}.")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty str; got {question!r}.")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1; got {max_steps!r}.")
    tools, route = _gather_tools(servers)
    messages: list[dict] = ([{"role": "system", "content": system}] if system else [])
    messages.append({"role": "user", "content": question})
    for step in range(1, max_steps + 1):
        action = policy(list(messages), list(tools))
        if isinstance(action, FinalAnswer):
            messages.append({"role": "assistant", "content": action.text})
            return AgentResult(action.text, messages, step, "final")
        if not isinstance(action, ToolCall):
            raise TypeError(f"policy must return a ToolCall or FinalAnswer; got {type(action).__name__}.")
        call_id = action.id or f"call_{step}"
        messages.append({"role": "assistant", "content": None,
                         "tool_calls": [{"id": call_id, "name": action.name, "arguments": dict(action.arguments)}]})
        messages.append(_execute(call_id, action, route))
    return AgentResult(None, messages, max_steps, "max_steps")


def _execute(call_id: str, action: ToolCall, route: dict) -> dict:
    if action.name not in route:
        return _tool_message(call_id, action.name, {"isError": True, "content": [
            {"type": "text", "text": f"Unknown tool {action.name!r}; available: {sorted(route)}"}]})
    client, remote_name = route[action.name]
    try:
        result = client.call_tool(remote_name, dict(action.arguments))
    except RemoteError as exc:
        result = {"isError": True, "content": [{"type": "text", "text": f"Protocol error {exc}"}]}
    except (MCPConnectionError, MCPTimeoutError) as exc:
        result = {"isError": True, "content": [{"type": "text", "text": f"Server unavailable: {exc}"}]}
    return _tool_message(call_id, action.name, result)


def openai_tools(tools: list[dict]) -> list[dict]:
    """MCP tool definitions as OpenAI chat-completions ``tools`` (``inputSchema`` -> ``parameters``).

    Examples
    --------
    >>> openai_tools([{"name": "t", "description": "d", "inputSchema": {"type": "object"}}])[0]["function"]["name"]
    't'
    """
    if not isinstance(tools, list) or not all(isinstance(t, dict) and "name" in t for t in tools):
        raise TypeError(f"tools must be a list of tool dicts with a 'name'; got {tools!r:.80}.")
    return [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                              "parameters": t.get("inputSchema", {"type": "object"})}}
            for t in tools]


def to_openai_messages(messages: list[dict]) -> list[dict]:
    """Our transcript in the chat-completions wire format (tool arguments as JSON strings)."""
    if not isinstance(messages, list) or not all(isinstance(m, dict) and "role" in m for m in messages):
        raise TypeError(f"messages must be a list of message dicts with a 'role'; got {messages!r:.80}.")
    out = []
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            out.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}} for c in m["tool_calls"]]})
        elif m["role"] == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def action_from_openai(message: dict) -> Action:
    """Turn a chat-completions assistant ``message`` (as a dict) into an action (first tool call wins).

    Examples
    --------
    >>> action_from_openai({"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
    ...     "function": {"name": "t", "arguments": '{"x": 1}'}}]})
    ToolCall(name='t', arguments={'x': 1}, id='c1')
    """
    if not isinstance(message, dict):
        raise TypeError(f"message must be a dict (e.g. reply.choices[0].message.model_dump()); got {type(message).__name__}.")
    calls = message.get("tool_calls") or []
    if calls:
        fn = calls[0]["function"]
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            raise ValueError(f"message tool call arguments are not JSON: {exc}") from None
        return ToolCall(fn["name"], args if isinstance(args, dict) else {}, calls[0].get("id", ""))
    return FinalAnswer(message.get("content") or "")
