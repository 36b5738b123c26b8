"""The SQLite MCP server: results equal an independent plain-Python computation, and nothing can write."""

import hashlib
import sqlite3
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.agents import build_sqlite_server, check_select, create_demo_database
from interviewlib.agents import jsonrpc as rpc

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
MONEY_TOL = 1e-9  # spend is ROUND(x, 2) in SQL; the reference rounds the same float sums the same way


@pytest.fixture(scope="module")
def served(shop_db):
    server = build_sqlite_server(shop_db)
    sess = server.new_session()
    server.handle(rpc.request("initialize", INIT, 0), sess)
    server.handle(rpc.notification("notifications/initialized"), sess)
    ids = iter(range(1, 10**6))

    def call(tool, **arguments):
        reply = server.handle(rpc.request("tools/call", {"name": tool, "arguments": arguments}, next(ids)), sess)
        return reply["result"]

    call.server, call.session = server, sess
    return call


def raw_rows(db, table):
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        con.close()


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_demo_database_is_deterministic(tmp_path):
    a = create_demo_database(tmp_path / "a.db", rng=7)
    b = create_demo_database(tmp_path / "b.db", rng=7)
    assert raw_rows(a, "orders") == raw_rows(b, "orders")
    assert raw_rows(a, "orders") != raw_rows(create_demo_database(tmp_path / "c.db", rng=8), "orders")
    with pytest.raises(ValueError, match="already exists"):
        create_demo_database(a)


def test_top_customers_matches_a_python_aggregation(served, shop_db):
    price = {pid: p for pid, _, _, p in raw_rows(shop_db, "products")}
    name = {cid: n for cid, n, _ in raw_rows(shop_db, "customers")}
    spend = defaultdict(float)
    for _, cid, pid, qty, _ in raw_rows(shop_db, "orders"):
        spend[cid] += qty * price[pid]
    expected = sorted(((name[c], round(v, 2)) for c, v in spend.items()), key=lambda t: (-t[1], t[0]))[:3]
    got = served("top_customers", limit=3)["structuredContent"]
    assert got["columns"] == ["name", "city", "spend"]
    assert [r[0] for r in got["rows"]] == [e[0] for e in expected]
    assert all(abs(r[2] - e[1]) <= MONEY_TOL for r, e in zip(got["rows"], expected))


def test_orders_for_customer_is_parameterised(served, shop_db):
    alice = next(cid for cid, n, _ in raw_rows(shop_db, "customers") if n == "Alice")
    n_alice = sum(1 for o in raw_rows(shop_db, "orders") if o[1] == alice)
    assert len(served("orders_for_customer", name="Alice")["structuredContent"]["rows"]) == n_alice
    # an injection attempt is just a name that matches nobody
    assert served("orders_for_customer", name="Alice' OR '1'='1")["structuredContent"]["rows"] == []


def test_structure_tools_and_schema_resource(served, shop_db):
    assert served("list_tables")["structuredContent"] == {"tables": ["customers", "orders", "products"]}
    cols = served("describe_table", table="orders")["structuredContent"]["columns"]
    con = sqlite3.connect(shop_db)
    ref = [(r[1], r[2], r[3], r[5]) for r in con.execute("PRAGMA table_info(orders)")]
    sqls = [r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type='table' ORDER BY name")]
    con.close()
    assert [(c["name"], c["type"], c["notnull"], c["pk"]) for c in cols] == ref
    bad = served("describe_table", table="orders; DROP TABLE orders")
    assert bad["isError"] and "Unknown table" in bad["content"][0]["text"]
    reply = served.server.handle(rpc.request("resources/read", {"uri": "sqlite://schema"}, 99), served.session)
    assert reply["result"]["contents"][0]["text"] == ";\n".join(sqls) + ";"


def test_query_tool_with_params_and_row_cap(shop_db):
    server = build_sqlite_server(shop_db, max_rows=5)
    sess = server.new_session()
    server.handle(rpc.request("initialize", INIT, 0), sess)
    server.handle(rpc.notification("notifications/initialized"), sess)
    res = server.handle(rpc.request("tools/call", {"name": "query", "arguments": {
        "sql": "SELECT id FROM orders WHERE quantity >= ? ORDER BY id", "params": [1]}}, 1), sess)["result"]
    assert res["structuredContent"]["rows"] == [[i] for i in range(1, 6)] and res["structuredContent"]["truncated"]


@pytest.mark.parametrize("sql", [
    "DELETE FROM orders",
    "UPDATE customers SET city = 'x'",
    "INSERT INTO customers (name, city) VALUES ('m', 'n')",
    "DROP TABLE orders",
    "SELECT 1; DROP TABLE orders",
    "SELECT 1; SELECT 2",
    "WITH x AS (SELECT 1) DELETE FROM orders",
    "WITH x AS (SELECT 1) INSERT INTO customers (name, city) SELECT 'a', 'b'",
    "PRAGMA writable_schema = ON",
    "ATTACH DATABASE ':memory:' AS m",
    "VACUUM",
    "SELECT load_extension('x')",
    "SELECT * FROM pragma_table_info('orders')",  # PRAGMA via table-valued function: denied too
])
def test_writes_and_multiple_statements_are_refused(served, shop_db, sql):
    before = digest(shop_db)
    res = served("query", sql=sql)
    assert res["isError"] is True
    assert digest(shop_db) == before


def test_runaway_queries_are_aborted(served):
    res = served("query", sql="WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r")
    assert res["isError"] and "interrupted" in res["content"][0]["text"]


@settings(max_examples=25, deadline=None)
@given(parts=st.lists(st.sampled_from(["SELECT 1", "SELECT ';'", "SELECT name FROM customers", "DELETE FROM t",
                                       "WITH a AS (SELECT 2) SELECT * FROM a"]), min_size=1, max_size=3),
       trailing=st.booleans())
def test_check_select_accepts_exactly_one_select(parts, trailing):
    sql = "; ".join(parts) + (";" if trailing else "")
    ok = len(parts) == 1 and not parts[0].startswith("DELETE")
    if ok:
        assert check_select(sql) == parts[0]
        assert sqlite3.complete_statement(check_select(sql) + ";")
    else:
        with pytest.raises(ValueError, match="single statement|read-only"):
            check_select(sql)


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1], [1, 2]]])
def test_bad_first_arguments(bad, tmp_path):
    with pytest.raises((TypeError, ValueError), match="sql"):
        check_select(bad)
    with pytest.raises((TypeError, ValueError), match="path"):
        build_sqlite_server(bad)
    with pytest.raises((TypeError, ValueError), match="path"):
        create_demo_database(bad)
