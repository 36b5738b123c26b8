"""Our MCP server framework: lifecycle, negotiation, errors, stdio framing, and the Streamable HTTP rules.

Results are checked against the SDK's wire models generated from the spec's schema/2025-11-25.json.
"""

import http.client
import io
import json
import math
import threading

import pytest
from mcp_types import _v2025_11_25 as wire

from interviewlib.agents import (
    SUPPORTED_PROTOCOL_VERSIONS,
    MCPClient,
    MCPConnectionError,
    MCPServer,
    MCPTimeoutError,
    RemoteError,
    StreamableHTTPServer,
    ToolContext,
    ToolError,
    serve_stdio,
)
from interviewlib.agents import jsonrpc as rpc
from interviewlib.agents.mcp_server import RESOURCE_NOT_FOUND

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}


def make_server(**kw):
    s = MCPServer("unit", "1.0", **kw)
    s.add_tool("add", lambda a, b: str(a + b), description="Add.", input_schema={
        "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]})

    def steps(ctx, n):
        for i in range(n):
            ctx.report_progress(i + 1, n)
        return {"n": n}

    s.add_tool("steps", steps, description="Progress.", input_schema={
        "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        output_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})

    def fails():
        raise ToolError("upstream API rate limit")

    s.add_tool("fails", fails, description="Fails.")
    s.add_tool("bug", lambda: 1 / 0, description="Raises ZeroDivisionError.")
    s.add_resource("unit://a", lambda: "A", name="a")
    s.add_prompt("p", lambda x: f"x={x}", arguments=[{"name": "x", "required": True}])
    return s


def ready(server, version="2025-11-25"):
    sess = server.new_session()
    res = server.handle(rpc.request("initialize", {**INIT, "protocolVersion": version}, 0), sess)
    server.handle(rpc.notification("notifications/initialized"), sess)
    return sess, res


def call(server, sess, method, params=None, msg_id=1, send=None):
    return server.handle(rpc.request(method, params, msg_id), sess, send)


# ---- lifecycle and negotiation ----------------------------------------------------------------------
def test_initialize_result_is_valid_2025_11_25_and_negotiates_capabilities():
    s = make_server(instructions="hi")
    _, res = ready(s)
    wire.InitializeResult.model_validate(res["result"])
    r = res["result"]
    assert r["protocolVersion"] == "2025-11-25" and r["serverInfo"]["name"] == "unit" and r["instructions"] == "hi"
    assert set(res["result"]["capabilities"]) == {"tools", "resources", "prompts"}
    bare = MCPServer("bare")
    bare.add_tool("t", lambda: "x", description="t")
    _, res = ready(bare)
    assert set(res["result"]["capabilities"]) == {"tools"}  # only what is offered
    sess, _ = ready(bare)
    assert call(bare, sess, "resources/list")["error"]["code"] == rpc.METHOD_NOT_FOUND


@pytest.mark.parametrize(("asked", "answered"), [
    ("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"),  # supported: echo it (MUST)
    ("2024-11-05", "2025-11-25"), ("2099-01-01", "2025-11-25"),  # else: our latest (SHOULD)
])
def test_version_negotiation(asked, answered):
    _, res = ready(make_server(), asked)
    assert res["result"]["protocolVersion"] == answered
    assert answered in SUPPORTED_PROTOCOL_VERSIONS


def test_requests_before_initialisation_are_rejected_but_ping_works():
    s = make_server()
    sess = s.new_session()
    assert call(s, sess, "ping") == rpc.result(1, {})
    err = call(s, sess, "tools/list")["error"]
    assert err["code"] == rpc.INVALID_REQUEST and "not initialized" in err["message"]
    s.handle(rpc.request("initialize", INIT, 2), sess)
    assert "error" in call(s, sess, "tools/list")  # still no initialized notification
    s.handle(rpc.notification("notifications/initialized"), sess)
    assert [t["name"] for t in call(s, sess, "tools/list")["result"]["tools"]] == ["add", "steps", "fails", "bug"]
    again = s.handle(rpc.request("initialize", INIT, 3), sess)
    assert again["error"]["code"] == rpc.INVALID_REQUEST


def test_bad_initialize_params_and_unknown_methods():
    s = make_server()
    sess = s.new_session()
    assert s.handle(rpc.request("initialize", {"protocolVersion": 1}, 1), sess)["error"]["code"] == rpc.INVALID_PARAMS
    assert sess.state == "new"  # a failed initialize leaves the session unopened
    sess, _ = ready(s)
    assert call(s, sess, "tools/frobnicate")["error"]["code"] == rpc.METHOD_NOT_FOUND
    assert s.handle(rpc.notification("notifications/whatever"), sess) is None  # notifications get no answer


# ---- tools, resources, prompts ----------------------------------------------------------------------
def test_tool_call_results_and_errors():
    s = make_server()
    sess, _ = ready(s)
    res = call(s, sess, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})["result"]
    assert wire.CallToolResult.model_validate(res).content[0].text == "5" and res["isError"] is False
    assert call(s, sess, "tools/call", {"name": "nope"})["error"]["code"] == rpc.INVALID_PARAMS  # unknown tool
    assert call(s, sess, "tools/call", {"name": "add", "arguments": [1]})["error"]["code"] == rpc.INVALID_PARAMS
    bad = call(s, sess, "tools/call", {"name": "add", "arguments": {"a": "x", "b": 3}})["result"]
    assert bad["isError"] is True and "$.a" in bad["content"][0]["text"]  # 2025-11-25: tool execution error
    failed = call(s, sess, "tools/call", {"name": "fails"})["result"]
    assert failed == {"content": [{"type": "text", "text": "upstream API rate limit"}], "isError": True}
    bug = call(s, sess, "tools/call", {"name": "bug"})["result"]
    assert bug["isError"] and "ZeroDivisionError" in bug["content"][0]["text"]


def test_invalid_arguments_are_a_protocol_error_under_2025_06_18():
    s = make_server()
    sess, _ = ready(s, "2025-06-18")
    assert call(s, sess, "tools/call", {"name": "add", "arguments": {"a": 1}})["error"]["code"] == rpc.INVALID_PARAMS


def test_progress_notifications_and_structured_output():
    s = make_server()
    sess, _ = ready(s)
    sent = []
    res = call(s, sess, "tools/call", {"name": "steps", "arguments": {"n": 3}, "_meta": {"progressToken": "tok"}},
               send=sent.append)["result"]
    assert [m["params"]["progress"] for m in sent] == [1, 2, 3]
    assert all(m["method"] == "notifications/progress" and m["params"]["progressToken"] == "tok" for m in sent)
    assert res["structuredContent"] == {"n": 3} and json.loads(res["content"][0]["text"]) == {"n": 3}
    sent.clear()
    call(s, sess, "tools/call", {"name": "steps", "arguments": {"n": 2}}, send=sent.append)
    assert sent == []  # no progressToken, no notifications


def test_progress_must_increase():
    ctx = ToolContext(MCPServer("x").new_session(), "t", lambda m: None)
    ctx.report_progress(1)
    with pytest.raises(ValueError, match="increase"):
        ctx.report_progress(1)


def test_resources_and_prompts():
    s = make_server()
    sess, _ = ready(s)
    lst = call(s, sess, "resources/list")["result"]
    assert wire.ListResourcesResult.model_validate(lst).resources[0].uri == "unit://a"
    read = call(s, sess, "resources/read", {"uri": "unit://a"})["result"]
    assert wire.ReadResourceResult.model_validate(read).contents[0].text == "A"
    assert call(s, sess, "resources/read", {"uri": "unit://zz"})["error"]["code"] == RESOURCE_NOT_FOUND == -32002
    got = call(s, sess, "prompts/get", {"name": "p", "arguments": {"x": "1"}})["result"]
    assert wire.GetPromptResult.model_validate(got).messages[0].content.text == "x=1"
    assert call(s, sess, "prompts/get", {"name": "p"})["error"]["code"] == rpc.INVALID_PARAMS
    assert call(s, sess, "prompts/get", {"name": "zz"})["error"]["code"] == rpc.INVALID_PARAMS


# ---- stdio framing (in process, no subprocess) ------------------------------------------------------
def run_stdio(server, lines):
    out = io.BytesIO()
    serve_stdio(server, io.BytesIO(b"".join(lines)), out)
    return [json.loads(x) for x in out.getvalue().splitlines()]


def test_stdio_survives_malformed_and_oversized_lines():
    s = make_server(max_message_bytes=256)
    replies = run_stdio(s, [
        rpc.encode(rpc.request("initialize", INIT, 1)), rpc.encode(rpc.notification("notifications/initialized")),
        b'{"jsonrpc": "2.0", "id": 2, "method": \n',  # malformed JSON
        b"\n",  # blank lines are skipped
        rpc.encode(rpc.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}, "pad": "x" * 600}, 3)),
        rpc.encode(rpc.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}, 4)),
    ])
    assert [r.get("id") for r in replies] == [1, None, None, 4]
    assert replies[1]["error"]["code"] == rpc.PARSE_ERROR
    assert replies[2]["error"]["code"] == rpc.INVALID_REQUEST and "too large" in replies[2]["error"]["message"]
    assert replies[3]["result"]["content"][0]["text"] == "2"  # the connection kept working


# ---- stdio subprocess: timeouts and a server that dies ----------------------------------------------
def test_subprocess_timeout_cancels_and_the_client_keeps_working(demo_server_cmd):
    with MCPClient.stdio(demo_server_cmd, timeout=10) as c:
        with pytest.raises(MCPTimeoutError, match="nap"):
            c.call_tool("nap", {"seconds": 1.0}, timeout=0.2)
        assert any(m.get("method") == "notifications/cancelled" for d, m in c.transcript if d == "->")
        assert c.call_tool("add", {"a": 1, "b": 2})["content"][0]["text"] == "3"  # late reply was dropped
        with pytest.raises(RemoteError, match="-32601"):
            c.request("no/such/method")


def test_server_dying_mid_call_raises_clearly_and_other_servers_keep_working(demo_server_cmd):
    with MCPClient.stdio(demo_server_cmd, timeout=10) as a, MCPClient.stdio(demo_server_cmd, timeout=10) as b:
        with pytest.raises(MCPConnectionError, match=r"exited \(code 3\).*crashing on purpose"):
            a.call_tool("crash")
        with pytest.raises(MCPConnectionError):
            a.ping()  # fails fast, does not hang
        assert b.call_tool("add", {"a": 20, "b": 22})["content"][0]["text"] == "42"


def test_client_rejects_a_command_that_is_not_argv():
    with pytest.raises(TypeError, match="command"):
        MCPClient.stdio("python server.py")


# ---- Streamable HTTP --------------------------------------------------------------------------------
def post(srv, body, headers=None, method="POST"):
    conn = http_conn(srv)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
         "Host": f"127.0.0.1:{srv.port}", **(headers or {})}
    conn.request(method, "/mcp", body=json.dumps(body).encode() if body is not None else None, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def http_conn(srv):
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)


@pytest.fixture
def srv():
    with StreamableHTTPServer(make_server()) as srv:
        yield srv


def open_session(srv):
    resp, data = post(srv, rpc.request("initialize", INIT, 1))
    sid = resp.getheader("Mcp-Session-Id")
    post(srv, rpc.notification("notifications/initialized"), {"Mcp-Session-Id": sid})
    return sid


def test_http_binds_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        StreamableHTTPServer(make_server(), host="0.0.0.0")
    with StreamableHTTPServer(make_server()) as srv:
        assert srv._httpd.server_address[0] == "127.0.0.1"


def test_http_origin_host_session_rules(srv):
    resp, _ = post(srv, rpc.request("initialize", INIT, 1), {"Origin": "http://evil.example"})
    assert resp.status == 403  # DNS-rebinding defence: validation a MUST since 2024-11-05, 403 stated in 2025-11-25
    resp, _ = post(srv, rpc.request("initialize", INIT, 1), {"Host": "evil.example"})
    assert resp.status == 421
    resp, _ = post(srv, rpc.request("initialize", INIT, 1), {"Origin": f"http://127.0.0.1:{srv.port}"})
    assert resp.status == 200
    sid = open_session(srv)
    resp, _ = post(srv, rpc.request("tools/list", None, 2))
    assert resp.status == 400  # no session header
    resp, _ = post(srv, rpc.request("tools/list", None, 2), {"Mcp-Session-Id": "guessed"})
    assert resp.status == 404
    resp, data = post(srv, rpc.request("tools/list", None, 2), {"Mcp-Session-Id": sid,
                                                                 "MCP-Protocol-Version": "2025-11-25"})
    assert resp.status == 200 and len(json.loads(data)["result"]["tools"]) == 4
    resp, _ = post(srv, rpc.request("tools/list", None, 3), {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "1999"})
    assert resp.status == 400
    resp, _ = post(srv, rpc.notification("notifications/cancelled", {"requestId": 9}), {"Mcp-Session-Id": sid})
    assert resp.status == 202
    resp, _ = post(srv, None, {"Mcp-Session-Id": sid}, method="GET")
    assert resp.status == 405
    resp, _ = post(srv, None, {"Mcp-Session-Id": sid}, method="DELETE")
    assert resp.status == 204
    resp, _ = post(srv, rpc.request("tools/list", None, 4), {"Mcp-Session-Id": sid})
    assert resp.status == 404  # a deleted session is gone


def test_http_bad_bodies(srv):
    conn = http_conn(srv)
    conn.request("POST", "/mcp", body=b"{not json", headers={"Host": f"127.0.0.1:{srv.port}",
                                                            "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 400 and json.loads(resp.read())["error"]["code"] == rpc.PARSE_ERROR
    conn.close()
    conn = http_conn(srv)  # announce a body over the limit; the server refuses it unread
    conn.request("POST", "/mcp", body=b"{}", headers={"Host": f"127.0.0.1:{srv.port}", "Content-Length": str(4 << 20)})
    resp = conn.getresponse()
    assert resp.status == 413 and json.loads(resp.read())["error"]["code"] == rpc.INVALID_REQUEST
    conn.close()


def test_session_ids_are_unguessable(srv):
    ids = [open_session(srv) for _ in range(8)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) >= 40 and all(0x21 <= ord(ch) <= 0x7E for ch in i) for i in ids)  # visible ASCII (spec)
    # token_urlsafe(32): 32 random bytes, 256 bits of entropy
    assert math.log2(64) * min(map(len, ids)) >= 256


def test_http_progress_arrives_as_sse_before_the_response(srv):
    with MCPClient.http(srv.url, timeout=5) as c:
        seen = []
        res = c.call_tool("steps", {"n": 4}, on_progress=seen.append)
        assert [p["progress"] for p in seen] == [1, 2, 3, 4] and res["structuredContent"] == {"n": 4}
        assert c.transport.protocol_version == "2025-11-25"


def test_http_client_refuses_non_loopback_urls():
    with pytest.raises(ValueError, match="loopback"):
        MCPClient.http("http://example.com/mcp")


def test_http_concurrent_sessions_are_independent(srv):
    results = []

    def work(k):
        with MCPClient.http(srv.url, timeout=5) as c:
            results.append(c.call_tool("add", {"a": k, "b": k})["content"][0]["text"])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(results, key=int) == ["0", "2", "4", "6"]


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1], [1, 2]]])
def test_constructors_reject_bad_first_arguments(bad):
    with pytest.raises((TypeError, ValueError), match="name"):
        MCPServer(bad)
    with pytest.raises(TypeError, match="server"):
        StreamableHTTPServer(bad)
    with pytest.raises(TypeError, match="server"):
        serve_stdio(bad)
    with pytest.raises((TypeError, ValueError), match="name"):
        make_server().add_tool(bad, lambda: "x", description="d")
    with pytest.raises(TypeError, match="session"):
        ToolContext(bad, None, None)
