"""The agent loop with scripted policies: message flow, tool errors, several servers, the OpenAI adapters."""

import json

import pytest

from interviewlib.agents import (
    FinalAnswer,
    MCPConnectionError,
    RemoteError,
    ScriptedPolicy,
    ToolCall,
    action_from_openai,
    openai_tools,
    run_agent,
    to_openai_messages,
)


class FakeClient:
    """Stands in for an MCPClient: list_tools/call_tool, plus scripted failures."""

    def __init__(self, tools, fail=None):
        self.tools, self.fail, self.calls = tools, fail, []

    def list_tools(self):
        return [{"name": n, "description": f"{n} tool", "inputSchema": {"type": "object"}} for n in self.tools]

    def call_tool(self, name, arguments):
        self.calls.append((name, arguments))
        if self.fail == "remote":
            raise RemoteError(-32602, f"Unknown tool: {name}")
        if self.fail == "dead":
            raise MCPConnectionError("MCP server 'x' exited (code 3)")
        if name == "add":
            return {"content": [{"type": "text", "text": str(arguments["a"] + arguments["b"])}], "isError": False}
        return {"content": [{"type": "text", "text": "bad input"}], "isError": True, "structuredContent": None}


def test_scripted_loop_runs_tools_and_stops_at_the_answer():
    client = FakeClient(["add"])
    policy = ScriptedPolicy([
        ToolCall("add", {"a": 2, "b": 3}),
        lambda msgs, tools: ToolCall("add", {"a": int(msgs[-1]["content"]), "b": 10}),
        lambda msgs, tools: FinalAnswer(f"The answer is {msgs[-1]['content']}."),
    ])
    res = run_agent(policy, "What is (2 + 3) + 10?", client, system="Use tools.")
    assert res.answer == "The answer is 15." and res.stop_reason == "final" and res.steps == 3
    assert client.calls == [("add", {"a": 2, "b": 3}), ("add", {"a": 5, "b": 10})]
    assert [m["role"] for m in res.messages] == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert res.messages[3] == {"role": "tool", "tool_call_id": "call_1", "name": "add", "content": "5",
                               "is_error": False, "structured": None}
    assert [c["name"] for c in res.tool_calls] == ["add", "add"]


def test_policy_sees_the_tools_and_a_copy_of_the_messages():
    seen = []

    def policy(messages, tools):
        seen.append(([t["name"] for t in tools], len(messages)))
        messages.append({"role": "user", "content": "tampering"})  # must not leak into the transcript
        return FinalAnswer("done")

    res = run_agent(policy, "hi", FakeClient(["add", "sub"]))
    assert seen == [(["add", "sub"], 1)] and len(res.messages) == 2


@pytest.mark.parametrize(("fail", "needle"), [("remote", "Protocol error [-32602]"), ("dead", "Server unavailable")])
def test_tool_failures_become_error_messages_and_the_loop_goes_on(fail, needle):
    policy = ScriptedPolicy([ToolCall("add", {"a": 1, "b": 1}), lambda m, t: FinalAnswer(str(m[-1]["is_error"]))])
    res = run_agent(policy, "q", FakeClient(["add"], fail=fail))
    assert res.messages[-2]["is_error"] is True and needle in res.messages[-2]["content"]
    assert res.answer == "True"


def test_unknown_tools_and_the_step_budget():
    policy = ScriptedPolicy([ToolCall("nope")] * 3)
    res = run_agent(policy, "q", FakeClient(["add"]), max_steps=2)
    assert res.answer is None and res.stop_reason == "max_steps" and res.steps == 2
    assert all(m["is_error"] and "Unknown tool 'nope'" in m["content"] for m in res.messages if m["role"] == "tool")


def test_several_servers_get_qualified_names_and_one_dead_server_does_not_stop_the_others():
    good, dead = FakeClient(["add"]), FakeClient(["add"], fail="dead")
    policy = ScriptedPolicy([ToolCall("broken__add", {"a": 1, "b": 2}), ToolCall("calc__add", {"a": 1, "b": 2}),
                             lambda m, t: FinalAnswer(m[-1]["content"])])
    res = run_agent(policy, "q", {"calc": good, "broken": dead})
    assert res.answer == "3" and good.calls == [("add", {"a": 1, "b": 2})] and dead.calls == [("add", {"a": 1, "b": 2})]


def test_scripted_policy_runs_out():
    p = ScriptedPolicy([FinalAnswer("x")])
    p([], [])
    with pytest.raises(RuntimeError, match="ran out"):
        p([], [])


def test_openai_adapters_round_trip():
    tools = FakeClient(["add"]).list_tools()
    assert openai_tools(tools) == [{"type": "function", "function": {
        "name": "add", "description": "add tool", "parameters": {"type": "object"}}}]
    res = run_agent(ScriptedPolicy([ToolCall("add", {"a": 1, "b": 2}), FinalAnswer("3")]), "q", FakeClient(["add"]))
    wire = to_openai_messages(res.messages)
    assert wire[1]["tool_calls"][0]["function"] == {"name": "add", "arguments": json.dumps({"a": 1, "b": 2})}
    assert wire[2] == {"role": "tool", "tool_call_id": "call_1", "content": "3"}
    assert action_from_openai(wire[1]) == ToolCall("add", {"a": 1, "b": 2}, "call_1")
    assert action_from_openai({"role": "assistant", "content": "3"}) == FinalAnswer("3")
    with pytest.raises(ValueError, match="not JSON"):
        action_from_openai({"tool_calls": [{"function": {"name": "add", "arguments": "{oops"}}]})


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1], [1, 2]]])
def test_bad_first_arguments(bad):
    with pytest.raises(TypeError, match="policy"):
        run_agent(bad, "q", FakeClient([]))
    with pytest.raises(TypeError, match="steps"):
        ScriptedPolicy(bad)
    with pytest.raises(TypeError, match="tools"):
        openai_tools(bad)
    with pytest.raises(TypeError, match="messages"):
        to_openai_messages(bad)
    with pytest.raises(TypeError, match="message"):
        action_from_openai(bad)
    with pytest.raises((TypeError, ValueError), match="name"):
        ToolCall(bad)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="question"):
        run_agent(lambda m, t: FinalAnswer(""), "  ", FakeClient([]))
    with pytest.raises(ValueError, match="max_steps"):
        run_agent(lambda m, t: FinalAnswer(""), "q", FakeClient([]), max_steps=0)
    with pytest.raises(TypeError, match="must return"):
        run_agent(lambda m, t: "text", "q", FakeClient([]))
    with pytest.raises(TypeError, match="arguments"):
        ToolCall("add", [1, 2])
    with pytest.raises(TypeError, match="text"):
        FinalAnswer(None)
