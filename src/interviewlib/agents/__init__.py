"""Agents (chapter 11): MCP from scratch (JSON-RPC over stdio and Streamable HTTP), tool servers,
agent loops with pluggable policies, retrieval memory and hallucination checks.

Standard library and numpy only, except :mod:`~interviewlib.agents.constrained` (11.6), which drives
chapter 8's torch ``DecoderLM``: its names are imported on first use, so an MCP server started as
``python -m interviewlib.agents ...`` does not pay for importing torch. The official ``mcp`` SDK is
used in tests and the chapter as the interoperability reference, never by this package.
"""

from .agent_loop import (
    AgentResult,
    FinalAnswer,
    ScriptedPolicy,
    ToolCall,
    action_from_openai,
    openai_tools,
    run_agent,
    to_openai_messages,
)
from .attacks import ATTACKS, BENIGN_TICKETS, Attack
from .bm25 import BM25, tokenize
from .calibration import accuracy_coverage, expected_calibration_error
from .embedding import TfidfSVD
from .guards import (
    allow_call,
    connect_readonly,
    diff_pins,
    injection_signals,
    outside_quarantine,
    pin_tools,
    quarantine,
    tool_fingerprint,
)
from .injection_lab import DEFENSES, Defenses, Episode, NaiveAgent, attack_success_table, run_episode
from .json_schema import schema_errors
from .jsonrpc import ProtocolError, RemoteError
from .local_client import LocalClient
from .mcp_client import MCPClient, MCPConnectionError, MCPTimeoutError, ProtocolVersionError
from .mcp_server import (
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    MCPServer,
    ServerSession,
    ToolContext,
    ToolError,
)
from .mcp_transports import StreamableHTTPServer, serve_stdio
from .memory import Memory, MemoryStore, generative_agents_score, minmax_scale
from .ranking import recall_at_k, reciprocal_rank_fusion
from .react import ReActPolicy, ReActStep, parse_react, render_react_prompt, tool_call_schema
from .self_consistency import majority_vote
from .sqlite_tools import build_sqlite_server, check_select, create_demo_database

__all__ = [
    "accuracy_coverage",
    "action_from_openai",
    "AgentResult",
    "allow_call",
    "Attack",
    "attack_success_table",
    "ATTACKS",
    "BENIGN_TICKETS",
    "BM25",
    "build_sqlite_server",
    "CharDFA",
    "check_select",
    "connect_readonly",
    "constrained_generate",
    "create_demo_database",
    "DEFENSES",
    "Defenses",
    "diff_pins",
    "Episode",
    "expected_calibration_error",
    "FinalAnswer",
    "generative_agents_score",
    "injection_signals",
    "LATEST_PROTOCOL_VERSION",
    "LocalClient",
    "majority_vote",
    "MCPClient",
    "MCPConnectionError",
    "MCPServer",
    "MCPTimeoutError",
    "Memory",
    "MemoryStore",
    "minmax_scale",
    "NaiveAgent",
    "openai_tools",
    "outside_quarantine",
    "parse_react",
    "pin_tools",
    "ProtocolError",
    "ProtocolVersionError",
    "quarantine",
    "ReActPolicy",
    "ReActStep",
    "recall_at_k",
    "reciprocal_rank_fusion",
    "RemoteError",
    "render_react_prompt",
    "Repeat",
    "run_agent",
    "run_episode",
    "schema_errors",
    "ScriptedPolicy",
    "serve_stdio",
    "ServerSession",
    "StreamableHTTPServer",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "TfidfSVD",
    "to_openai_messages",
    "TokenFSM",
    "tokenize",
    "tool_call_schema",
    "tool_fingerprint",
    "ToolCall",
    "ToolContext",
    "ToolError",
]

_LAZY = {name: "constrained" for name in ("CharDFA", "Repeat", "TokenFSM", "constrained_generate")}


def __getattr__(name: str):
    # torch-backed names, imported on first use (see the module docstring)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
