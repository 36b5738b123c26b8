"""Interoperability with the official MCP Python SDK (mcp 2.3.0), both ways.

- the SDK's client (``stdio_client`` + ``ClientSession``, and ``streamable_http_client``) against our server;
- our client against a server written with the SDK (``MCPServer``, the 2.x name of ``FastMCP``) over stdio.
"""

import sys

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

from interviewlib.agents import (
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    MCPClient,
    ProtocolVersionError,
    RemoteError,
    StreamableHTTPServer,
    build_sqlite_server,
)

SDK_TIMEOUT = 20  # seconds for a whole SDK session: generous for a cold subprocess start on a busy CI runner


def test_our_revisions_are_ones_the_sdk_can_handshake():
    assert set(SUPPORTED_PROTOCOL_VERSIONS) <= set(HANDSHAKE_PROTOCOL_VERSIONS)
    assert LATEST_PROTOCOL_VERSION == LATEST_HANDSHAKE_VERSION == "2025-11-25"


async def _exercise(read, write):
    async with ClientSession(read, write, read_timeout_seconds=10) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        top = await session.call_tool("top_customers", {"limit": 2})
        bad = await session.call_tool("query", {"sql": "DELETE FROM orders"})
        resources = await session.list_resources()
        schema = await session.read_resource("sqlite://schema")
        prompt = await session.get_prompt("ask_database", {"question": "Who spends most?"})
        return init, tools, top, bad, resources, schema, prompt


def _check(results):
    init, tools, top, bad, resources, schema, prompt = results
    assert init.protocol_version == "2025-11-25" and init.server_info.name == "sqlite-readonly"
    names = {t.name for t in tools.tools}
    assert {"list_tables", "describe_table", "top_customers", "orders_for_customer", "query"} <= names
    assert next(t for t in tools.tools if t.name == "query").annotations.read_only_hint is True
    assert top.is_error is False and len(top.structured_content["rows"]) == 2
    assert bad.is_error is True and "SELECT" in bad.content[0].text
    assert [str(r.uri) for r in resources.resources] == ["sqlite://schema"]
    assert "CREATE TABLE orders" in schema.contents[0].text
    assert "Who spends most?" in prompt.messages[0].content.text


def test_sdk_stdio_client_against_our_server(shop_db):
    params = StdioServerParameters(command=sys.executable, args=["-m", "interviewlib.agents", "sqlite", str(shop_db)])

    async def main():
        with anyio.fail_after(SDK_TIMEOUT):
            async with stdio_client(params) as (read, write):
                return await _exercise(read, write)

    _check(anyio.run(main))


def test_sdk_streamable_http_client_against_our_server(shop_db):
    async def main(url):
        with anyio.fail_after(SDK_TIMEOUT):
            async with streamable_http_client(url) as streams:
                return await _exercise(streams[0], streams[1])

    with StreamableHTTPServer(build_sqlite_server(shop_db)) as srv:
        results = anyio.run(main, srv.url)
        assert srv.sessions == {}  # the SDK client sent DELETE when it closed
    _check(results)


def test_our_client_against_an_sdk_server(sdk_server_cmd):
    with MCPClient.stdio(sdk_server_cmd, timeout=15) as c:
        assert c.protocol_version == "2025-11-25" and c.server_info["name"] == "sdk-reference-server"
        assert set(c.server_capabilities) >= {"tools", "resources", "prompts"}
        assert sorted(t["name"] for t in c.list_tools()) == ["multiply", "shout"]
        res = c.call_tool("multiply", {"a": 6, "b": 7})
        assert res["structuredContent"] == {"result": 42} and res["content"][0]["text"] == "42"
        assert c.call_tool("multiply", {"a": "six", "b": 7})["isError"] is True  # SDK: validation -> tool error
        assert c.read_resource("note://greeting")[0]["text"] == "hello from the SDK"
        assert [p["name"] for p in c.list_prompts()] == ["summarize"]
        msg = c.get_prompt("summarize", {"topic": "MCP"})["messages"][0]
        assert msg["role"] == "user" and msg["content"]["text"] == "Summarize MCP in one sentence."
        with pytest.raises(RemoteError, match="-32601"):
            c.request("no/such/method")
        assert c.ping() == {}
        sent = [m for d, m in c.transcript if d == "->"]
        assert [m.get("method") for m in sent[:2]] == ["initialize", "notifications/initialized"]


def test_version_mismatch_with_the_sdk_server_disconnects(sdk_server_cmd):
    # The SDK still speaks 2024-11-05 and echoes it; we do not, so we must disconnect (lifecycle spec).
    with pytest.raises(ProtocolVersionError, match="2024-11-05"):
        MCPClient.stdio(sdk_server_cmd, timeout=15, protocol_version="2024-11-05")


def test_sdk_dual_era_client_falls_back_to_the_handshake(shop_db):
    # mcp.Client(mode="auto") first probes the stateless 2026-07-28 era (server/discover); our server speaks the
    # handshake era only, answers 400 without a modern error body, and the SDK falls back to initialize.
    from mcp import Client

    async def main(url):
        with anyio.fail_after(SDK_TIMEOUT):
            async with Client(url, mode="auto") as client:
                res = await client.call_tool("list_tables", {})
                return res.structured_content, client.session.protocol_version

    with StreamableHTTPServer(build_sqlite_server(shop_db)) as srv:
        tables, version = anyio.run(main, srv.url)
    assert tables == {"tables": ["customers", "orders", "products"]} and version == "2025-11-25"
