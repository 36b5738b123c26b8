"""A server built with our framework, run as a stdio subprocess by the tests (tools that add, report
progress, sleep, and crash the process mid-call)."""

import os
import sys
import time

from interviewlib.agents import MCPServer, serve_stdio

server = MCPServer("demo-server", "1.0", instructions="Test server.", max_message_bytes=4096)


@server.tool(description="Add two integers.", input_schema={
    "type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"], "additionalProperties": False})
def add(a, b):
    return str(a + b)


@server.tool(description="Count to n, reporting progress.", input_schema={
    "type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 20}}, "required": ["n"]})
def count(ctx, n):
    for i in range(1, n + 1):
        ctx.report_progress(i, n, f"step {i}/{n}")
    return {"counted": n}


@server.tool(description="Sleep for some seconds.", input_schema={
    "type": "object", "properties": {"seconds": {"type": "number"}}, "required": ["seconds"]})
def nap(seconds):
    time.sleep(seconds)
    return "awake"


@server.tool(description="Exit the server process in the middle of the call.")
def crash():
    print("crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


server.add_resource("demo://readme", lambda: "This is the demo server.", name="readme")
server.add_prompt("greet", lambda who: f"Say hello to {who}.", description="Greeting.",
                  arguments=[{"name": "who", "required": True}])

if __name__ == "__main__":
    serve_stdio(server)
