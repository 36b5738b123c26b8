"""Fixtures for the MCP tests: commands for the stdio test servers and a demo SQLite database.

Every subprocess started here is closed by its fixture (stdio shutdown: close stdin, SIGTERM, SIGKILL),
and every client call has a timeout, so a broken server fails a test instead of hanging CI.
"""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def demo_server_cmd():
    """argv of a stdio server built with our framework (tests/agents/demo_mcp_server.py)."""
    return [sys.executable, str(HERE / "demo_mcp_server.py")]


@pytest.fixture(scope="session")
def sdk_server_cmd():
    """argv of a stdio server built with the official SDK (tests/agents/sdk_server.py)."""
    return [sys.executable, str(HERE / "sdk_server.py")]


@pytest.fixture(scope="session")
def shop_db(tmp_path_factory):
    """The chapter's demo shop database, created once per test session."""
    from interviewlib.agents import create_demo_database

    return create_demo_database(tmp_path_factory.mktemp("sqlite") / "shop.db")
