r"""ReAct as a policy: a text-completion model writes Thought / Action lines, the host parses them.

ReAct (Yao et al., 2022) interleaves free-text reasoning with actions: the model writes
``Thought: ...`` then ``Action: ...``, the host runs the action and appends
``Observation: ...``, and the model continues until it writes ``Final Answer: ...``. Before
function calling (June 2023) this text protocol was the usual tool-use interface: LangChain's
early agents were ReAct-style and parsed it with regular expressions. Native tool calling moved
the parsing into the provider (a model fine-tuned to emit a structured call; conformance to the
schema is guaranteed only in constrained modes such as OpenAI's ``strict: true``, August 2024);
the loop stayed the same.

:class:`ReActPolicy` turns any ``llm(prompt: str) -> str`` into a policy for
:func:`~interviewlib.agents.agent_loop.run_agent`. The action is one JSON object
``{"tool": name, "arguments": {...}}``, checked against :func:`tool_call_schema` and the
tool's ``inputSchema`` (:func:`~interviewlib.agents.json_schema.schema_errors`). A reply that
does not parse or does not validate never reaches a tool: the error goes back to the model
as an ``Observation`` and it gets ``max_repairs`` more tries. Text after the first
``Observation:`` is cut off, because a completion model that is not stopped there invents
the tool's answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .agent_loop import FinalAnswer, ToolCall
from .json_schema import schema_errors

__all__ = ["ReActPolicy", "ReActStep", "parse_react", "render_react_prompt", "tool_call_schema"]

_FORMAT = (
    "Answer with lines in exactly this format:\n"
    "Thought: <your reasoning>\n"
    'Action: {"tool": "<tool name>", "arguments": {<arguments as JSON>}}\n'
    "then stop and wait for the Observation. When you know the answer, write\n"
    "Thought: <your reasoning>\nFinal Answer: <the answer>"
)


@dataclass(frozen=True)
class ReActStep:
    """One parsed reply: the thought and either an action (dict) or a final answer (str)."""

    thought: str
    action: dict | None
    final: str | None


def tool_call_schema(tools: Sequence[Mapping]) -> dict:
    r"""JSON Schema of one action: ``{"tool": <one of the tool names>, "arguments": {...}}``.

    Parameters
    ----------
    tools : list of dict
        MCP tool definitions (``name``, ``description``, ``inputSchema``).

    Returns
    -------
    dict
        An object schema with ``tool`` restricted to the names and ``arguments`` an object.

    Raises
    ------
    TypeError
        If ``tools`` is not a list of dicts with a str ``name``.

    Examples
    --------
    >>> tool_call_schema([{"name": "lookup"}])["properties"]["tool"]
    {'enum': ['lookup']}
    """
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence) \
            or not all(isinstance(t, Mapping) and isinstance(t.get("name"), str) for t in tools):
        raise TypeError(f"tools must be a list of tool definitions with a str 'name'; got {tools!r:.80}.")
    return {"type": "object", "required": ["tool", "arguments"], "additionalProperties": False,
            "properties": {"tool": {"enum": [t["name"] for t in tools]}, "arguments": {"type": "object"}}}


def _before_observation(text: str) -> str:
    """The reply up to its first ``Observation:`` line (what follows was invented by the model)."""
    return re.split(r"^\s*Observation\s*:", text, maxsplit=1, flags=re.M)[0]


def parse_react(text: str) -> ReActStep:
    r"""Parse one model reply in the ReAct format.

    Parameters
    ----------
    text : str
        The completion. Everything from the first ``Observation:`` on is ignored.

    Returns
    -------
    ReActStep

    Raises
    ------
    TypeError
        If ``text`` is not a str.
    ValueError
        If there is neither a ``Final Answer:`` nor an ``Action:`` followed by one JSON object.

    Examples
    --------
    >>> parse_react('Thought: look it up\nAction: {"tool": "lookup", "arguments": {"event": "x"}}\nObservation: 42')
    ReActStep(thought='look it up', action={'tool': 'lookup', 'arguments': {'event': 'x'}}, final=None)
    >>> parse_react("Thought: done\nFinal Answer: 82 days").final
    '82 days'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (a model reply); got {type(text).__name__}.")
    text = _before_observation(text)
    m = re.search(r"^\s*Thought\s*:(.*?)(?=^\s*(Action|Final Answer)\s*:|\Z)", text, re.M | re.S)
    thought = m.group(1).strip() if m else ""
    final = re.search(r"^\s*Final Answer\s*:(.*)", text, re.M | re.S)
    if final:
        return ReActStep(thought, None, final.group(1).strip())
    act = re.search(r"^\s*Action\s*:\s*", text, re.M)
    if act is None:
        raise ValueError("text has neither 'Action:' nor 'Final Answer:'; " + _FORMAT.splitlines()[0].lower() + ".")
    try:
        action, _ = json.JSONDecoder().raw_decode(text, act.end())
    except json.JSONDecodeError as exc:
        raise ValueError(f"the Action is not valid JSON ({exc.msg} at column {exc.colno}).") from None
    if not isinstance(action, dict):
        raise ValueError(f"the Action must be a JSON object; got {type(action).__name__}.")
    return ReActStep(thought, action, None)


def render_react_prompt(messages: Sequence[Mapping], tools: Sequence[Mapping], thoughts: Sequence[str] = ()) -> str:
    r"""The text prompt a completion model sees: tools, format, question and scratchpad.

    Parameters
    ----------
    messages : list of dict
        The ``run_agent`` transcript (system, user, assistant tool calls, tool results).
    tools : list of dict
        MCP tool definitions; each is shown with its JSON Schema.
    thoughts : list of str
        The thought that preceded each tool call, in order.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``messages`` is not a list of dicts with a ``role``.

    Examples
    --------
    >>> p = render_react_prompt([{"role": "user", "content": "2+2?"}], [{"name": "calc", "description": "Add."}])
    >>> p.splitlines()[1], p.splitlines()[-1]
    ('- calc: Add. Arguments schema: {}', 'Question: 2+2?')
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) \
            or not all(isinstance(m, Mapping) and "role" in m for m in messages):
        raise TypeError(f"messages must be a list of message dicts with a 'role'; got {messages!r:.80}.")
    lines = [m["content"] for m in messages if m["role"] == "system"] + ["Tools:"]
    for t in tools:
        lines.append(f"- {t['name']}: {t.get('description', '')} Arguments schema: {json.dumps(t.get('inputSchema', {}))}")
    lines += [_FORMAT, ""]
    calls = 0
    for m in messages:
        if m["role"] == "user":
            lines.append(f"Question: {m['content']}")
        elif m["role"] == "assistant" and m.get("tool_calls"):
            c = m["tool_calls"][0]
            thought = thoughts[calls] if calls < len(thoughts) else ""
            lines += [f"Thought: {thought}", "Action: " + json.dumps({"tool": c["name"], "arguments": c["arguments"]})]
            calls += 1
        elif m["role"] == "tool":
            lines.append(f"Observation: {m['content']}")
    return "\n".join(lines)


class ReActPolicy:
    r"""A ``run_agent`` policy backed by a text model that speaks the ReAct format.

    Parameters
    ----------
    llm : callable
        ``llm(prompt: str) -> str``; a real model would be stopped at ``"Observation:"``.
    max_repairs : int
        Extra tries per step when a reply does not parse or does not validate.

    Attributes
    ----------
    trace : list of dict
        Every model call: ``{"prompt", "reply", "error"}`` (``error`` None when accepted).
    thoughts : list of str
        The accepted thoughts, one per tool call.

    Raises
    ------
    TypeError
        If ``llm`` is not callable. ``RuntimeError`` (when called) once a step has used up
        its repairs, so a model that never produces a valid call cannot loop forever.

    Notes
    -----
    A repair feeds the validator's message back as ``Observation: Invalid ...``; the
    transcript of ``run_agent`` only records accepted calls. See question q11-04.

    Examples
    --------
    >>> replies = iter(['Thought: t\nAction: {"tool": "calc", "arguments": {"x": "2"}}',
    ...                 'Thought: fix the type\nAction: {"tool": "calc", "arguments": {"x": 2}}'])
    >>> policy = ReActPolicy(lambda prompt: next(replies))
    >>> tools = [{"name": "calc", "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}}}]
    >>> policy([{"role": "user", "content": "?"}], tools)
    ToolCall(name='calc', arguments={'x': 2}, id='')
    >>> policy.trace[0]["error"]
    'Invalid arguments for calc: $.x: expected integer, got string'
    """

    def __init__(self, llm: Callable[[str], str], *, max_repairs: int = 2) -> None:
        if not callable(llm):
            raise TypeError(f"llm must be callable prompt -> reply; got {type(llm).__name__}.")
        if isinstance(max_repairs, bool) or not isinstance(max_repairs, int) or max_repairs < 0:
            raise ValueError(f"max_repairs must be an int >= 0; got {max_repairs!r}.")
        self.llm, self.max_repairs = llm, max_repairs
        self.trace: list[dict] = []
        self.thoughts: list[str] = []

    def _check(self, step: ReActStep, tools: Sequence[Mapping]) -> str | None:
        problems = schema_errors(step.action, tool_call_schema(tools))
        if problems:
            return "Invalid action: " + "; ".join(problems)
        spec = next(t for t in tools if t["name"] == step.action["tool"])
        problems = schema_errors(step.action["arguments"], spec.get("inputSchema", {"type": "object"}))
        return f"Invalid arguments for {spec['name']}: " + "; ".join(problems) if problems else None

    def __call__(self, messages: list[dict], tools: list[dict]) -> ToolCall | FinalAnswer:
        prompt = render_react_prompt(messages, tools, self.thoughts)
        for _ in range(self.max_repairs + 1):
            reply = self.llm(prompt)
            if not isinstance(reply, str):
                raise TypeError(f"llm must return a str; got {type(reply).__name__}.")
            try:
                step = parse_react(reply)
                error = None if step.final is not None else self._check(step, tools)
            except ValueError as exc:
                step, error = None, f"Invalid format: {exc}"
            self.trace.append({"prompt": prompt, "reply": reply, "error": error})
            if error is None:
                if step.final is not None:
                    return FinalAnswer(step.final)
                self.thoughts.append(step.thought)
                return ToolCall(step.action["tool"], step.action["arguments"])
            prompt += f"\n{_before_observation(reply).strip()}\nObservation: {error}"
        raise RuntimeError(f"the model produced no valid step in {self.max_repairs + 1} tries; last error: {error}")
