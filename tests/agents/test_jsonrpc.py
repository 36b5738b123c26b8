"""JSON-RPC 2.0 messages: builders checked against the SDK's generated 2025-11-25 wire models, framing, bad input."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp_types import _v2025_11_25 as wire  # models generated from the spec's schema/2025-11-25.json

from interviewlib.agents import jsonrpc as rpc

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def test_error_codes_are_the_json_rpc_2_0_ones():
    assert (rpc.PARSE_ERROR, rpc.INVALID_REQUEST, rpc.METHOD_NOT_FOUND, rpc.INVALID_PARAMS, rpc.INTERNAL_ERROR) == (
        -32700, -32600, -32601, -32602, -32603)


def test_builders_match_the_spec_wire_models():
    req = rpc.request("tools/call", {"name": "add", "arguments": {"a": 1}}, 7)
    assert wire.JSONRPCRequest.model_validate(req).method == "tools/call"
    note = rpc.notification("notifications/initialized")
    assert wire.JSONRPCNotification.model_validate(note).method == "notifications/initialized"
    assert wire.JSONRPCResultResponse.model_validate(rpc.result("a", {})).id == "a"
    err = wire.JSONRPCErrorResponse.model_validate(rpc.error(3, rpc.METHOD_NOT_FOUND, "Method not found"))
    assert err.error.code == -32601
    assert rpc.kind(req) == "request" and rpc.kind(note) == "notification" and rpc.kind(rpc.result(1, {})) == "response"


@settings(max_examples=25, deadline=None)
@given(params=st.dictionaries(st.text(max_size=8), json_values, max_size=4), msg_id=st.integers(0, 2**31) | st.text(min_size=1))
def test_encode_is_one_line_and_decodes_back(params, msg_id):
    msg = rpc.request("tools/call", params, msg_id)
    line = rpc.encode(msg)
    assert line.endswith(b"\n") and line.count(b"\n") == 1  # stdio framing: no embedded newlines
    assert rpc.decode(line.rstrip(b"\n")) == msg == json.loads(line)


@pytest.mark.parametrize(("data", "code"), [
    (b'{"jsonrpc": "2.0", "id": 1, "method": ', rpc.PARSE_ERROR),
    (b"\xff\xfe", rpc.PARSE_ERROR),
    (b"[]", rpc.INVALID_REQUEST),  # batches were removed in 2025-06-18
    (b'[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]', rpc.INVALID_REQUEST),
    (b'"ping"', rpc.INVALID_REQUEST),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}', rpc.INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": null, "method": "ping"}', rpc.INVALID_REQUEST),  # MCP forbids null ids
    (b'{"jsonrpc": "2.0", "id": 1, "method": 5}', rpc.INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}', rpc.INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1}', rpc.INVALID_REQUEST),
])
def test_decode_rejects_with_the_right_code(data, code):
    with pytest.raises(rpc.ProtocolError) as info:
        rpc.decode(data)
    assert info.value.code == code


def test_decode_refuses_oversized_messages_before_parsing():
    big = rpc.encode(rpc.request("ping", {"pad": "x" * 200}, 1))
    with pytest.raises(rpc.ProtocolError, match="too large") as info:
        rpc.decode(big, max_bytes=100)
    assert info.value.code == rpc.INVALID_REQUEST
    assert rpc.decode(big, max_bytes=len(big))["method"] == "ping"


def test_decode_keeps_the_id_of_an_invalid_request_when_readable():
    with pytest.raises(rpc.ProtocolError) as info:
        rpc.decode(b'{"jsonrpc": "2.0", "id": 9, "method": "x", "params": 3}')
    assert info.value.msg_id == 9


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1], [1, 2]]])
def test_builders_reject_bad_first_arguments(bad):
    with pytest.raises((TypeError, ValueError), match="method"):
        rpc.request(bad, None, 1)
    with pytest.raises((TypeError, ValueError), match="method"):
        rpc.notification(bad)
    with pytest.raises((TypeError, ValueError), match="data must be|Parse error"):
        rpc.decode(bad)
    with pytest.raises(TypeError, match="msg"):
        rpc.encode(bad)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="id"):
        rpc.request("ping", None, None)
    with pytest.raises(TypeError, match="id"):
        rpc.request("ping", None, True)
    with pytest.raises(TypeError, match="params"):
        rpc.request("ping", [1, 2], 1)
    with pytest.raises(TypeError, match="value"):
        rpc.result(1, [1])
    with pytest.raises(TypeError, match="code"):
        rpc.error(1, "x", "m")
    with pytest.raises(ValueError, match="not a JSON-RPC"):
        rpc.kind({"jsonrpc": "2.0"})
    with pytest.raises(ValueError, match="Parse error"):  # ProtocolError is a ValueError
        rpc.decode("not valid")


def test_nan_cannot_be_encoded():
    with pytest.raises(ValueError):
        rpc.encode(rpc.request("ping", {"x": float("nan")}, 1))
