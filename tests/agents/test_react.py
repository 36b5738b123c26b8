"""ReAct: parsing, the action schema (checked with `jsonschema`), repairs, and a full loop over MCP."""

import datetime as dt
import json
import math

import pytest

from interviewlib.agents.agent_loop import FinalAnswer, ToolCall, run_agent
from interviewlib.agents.local_client import LocalClient
from interviewlib.agents.mcp_server import MCPServer
from interviewlib.agents.react import ReActPolicy, parse_react, render_react_prompt, tool_call_schema

jsonschema = pytest.importorskip("jsonschema")

DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
TOOLS = [
    {"name": "lookup", "description": "Date of an event.",
     "inputSchema": {"type": "object", "properties": {"event": {"type": "string"}}, "required": ["event"],
                     "additionalProperties": False}},
    {"name": "days_between", "description": "Days from start to end.",
     "inputSchema": {"type": "object", "properties": {"start": DATE, "end": DATE}, "required": ["start", "end"],
                     "additionalProperties": False}},
]


def test_parse_action_final_and_thought():
    s = parse_react('Thought: need a date\nAction: {"tool": "lookup", "arguments": {"event": "x"}}')
    assert (s.thought, s.action, s.final) == ("need a date", {"tool": "lookup", "arguments": {"event": "x"}}, None)
    s = parse_react("Thought: I know it\nFinal Answer: 82 days\nthat is all")
    assert s.final == "82 days\nthat is all" and s.action is None


def test_hallucinated_observation_is_cut_off():
    text = ('Thought: t\nAction: {"tool": "lookup", "arguments": {"event": "x"}}\nObservation: 1999-01-01\n'
            "Thought: so\nFinal Answer: made up")
    s = parse_react(text)
    assert s.final is None and s.action["tool"] == "lookup"


@pytest.mark.parametrize(("text", "match"), [
    ("Thought: hmm, let me think", "neither"),
    ('Action: {"tool": "lookup", "arguments": {', "not valid JSON"),
    ('Action: ["lookup"]', "JSON object"),
])
def test_parse_errors(text, match):
    with pytest.raises(ValueError, match=match):
        parse_react(text)


def test_tool_call_schema_is_valid_json_schema_and_agrees_with_jsonschema():
    schema = tool_call_schema(TOOLS)
    jsonschema.Draft202012Validator.check_schema(schema)
    from interviewlib.agents.json_schema import schema_errors
    for action in ({"tool": "lookup", "arguments": {}}, {"tool": "shell", "arguments": {}},
                   {"tool": "lookup"}, {"tool": "lookup", "arguments": [], "x": 1}, {"tool": True, "arguments": {}}):
        assert (not schema_errors(action, schema)) == jsonschema.Draft202012Validator(schema).is_valid(action)


def _server(calls):
    dates = {"chatgpt plugins": "2023-03-23", "function calling": "2023-06-13"}
    s = MCPServer("facts")

    def lookup(event):
        calls.append(("lookup", event))
        return dates[event]

    def days_between(start, end):
        calls.append(("days_between", start, end))
        return str((dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days)

    for t, fn in zip(TOOLS, (lookup, days_between)):
        s.add_tool(t["name"], fn, description=t["description"], input_schema=t["inputSchema"])
    return s


def _act(tool, **arguments):
    return "Thought: next\nAction: " + json.dumps({"tool": tool, "arguments": arguments})


def test_full_loop_repairs_bad_calls_before_they_reach_the_server():
    calls = []
    replies = iter([
        _act("lookup", event="chatgpt plugins"),
        _act("lookup", name="function calling"),            # wrong argument name: repaired, never sent
        _act("lookup", event="function calling"),
        _act("days_between", start="2023-03-23", end="June 13"),  # fails the date pattern
        _act("days_between", start="2023-03-23", end="2023-06-13"),
    ])

    def llm(prompt):
        if prompt.count("Observation:") - prompt.count("Observation: Invalid") == 3:
            answer = prompt.rsplit("Observation: ", 1)[1].strip()
            return f"Thought: done\nFinal Answer: {answer} days"
        return next(replies)

    policy = ReActPolicy(llm)
    res = run_agent(policy, "How many days from ChatGPT plugins to function calling?", LocalClient(_server(calls)))
    expected = (dt.date(2023, 6, 13) - dt.date(2023, 3, 23)).days
    assert res.answer == f"{expected} days" and res.stop_reason == "final"
    assert calls == [("lookup", "chatgpt plugins"), ("lookup", "function calling"),
                     ("days_between", "2023-03-23", "2023-06-13")]
    errors = [t["error"] for t in policy.trace if t["error"]]
    assert len(errors) == 2 and "unexpected property 'name'" in errors[0] and "pattern" in errors[1]
    assert len(policy.thoughts) == 3


def test_repairs_are_bounded():
    policy = ReActPolicy(lambda p: "I refuse to use the format", max_repairs=1)
    with pytest.raises(RuntimeError, match="no valid step in 2 tries"):
        policy([{"role": "user", "content": "?"}], TOOLS)
    assert len(policy.trace) == 2 and all(t["error"].startswith("Invalid format") for t in policy.trace)


def test_unknown_tool_is_refused_by_the_action_schema():
    replies = iter([_act("shell", cmd="rm -rf /"), "Thought: ok\nFinal Answer: no"])
    policy = ReActPolicy(lambda p: next(replies))
    assert policy([{"role": "user", "content": "?"}], TOOLS) == FinalAnswer("no")
    assert "is not one of" in policy.trace[0]["error"]


def test_prompt_shows_tools_question_and_scratchpad():
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "name": "lookup", "arguments": {"event": "x"}}]},
            {"role": "tool", "tool_call_id": "c1", "name": "lookup", "content": "2023-03-23"}]
    p = render_react_prompt(msgs, TOOLS, ["need x"])
    lines = p.splitlines()
    assert lines[0] == "Be brief." and lines[1] == "Tools:" and lines[2].startswith("- lookup: Date of an event.")
    assert p.endswith('Question: Q?\nThought: need x\nAction: {"tool": "lookup", "arguments": {"event": "x"}}\n'
                      "Observation: 2023-03-23")
    assert json.loads(lines[3].split("Arguments schema: ", 1)[1]) == TOOLS[1]["inputSchema"]


def test_policy_returns_agent_loop_actions():
    policy = ReActPolicy(lambda p: _act("lookup", event="x"))
    assert policy([{"role": "user", "content": "?"}], TOOLS) == ToolCall("lookup", {"event": "x"})


def test_bad_input():
    for bad in (None, math.nan, [[1], [1, 2]]):
        with pytest.raises(TypeError, match="text"):
            parse_react(bad)
        with pytest.raises(TypeError, match="messages"):
            render_react_prompt(bad, TOOLS)
        with pytest.raises(TypeError, match="llm"):
            ReActPolicy(bad)
    for bad in (None, "not valid", [{"description": "no name"}], [[1], [1, 2]]):
        with pytest.raises(TypeError, match="tools"):
            tool_call_schema(bad)
    with pytest.raises(ValueError, match="max_repairs"):
        ReActPolicy(lambda p: "", max_repairs=-1)
    with pytest.raises(TypeError, match="llm must return a str"):
        ReActPolicy(lambda p: None)([{"role": "user", "content": "?"}], TOOLS)
