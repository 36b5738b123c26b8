"""Run one of the chapter's MCP servers over stdio: ``python -m interviewlib.agents sqlite DB_PATH``.

(A separate entry point, because ``python -m interviewlib.agents.sqlite_tools`` would import that module
twice: once through the package ``__init__`` and once as ``__main__``.)
"""

import sys

from .mcp_transports import serve_stdio
from .sqlite_tools import build_sqlite_server

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "sqlite":
        sys.exit("usage: python -m interviewlib.agents sqlite DB_PATH")
    serve_stdio(build_sqlite_server(sys.argv[2]))
