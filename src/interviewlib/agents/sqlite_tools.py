r"""An MCP server over a SQLite database: read-only query tools, a schema resource, a prompt.

The scenario of question 11.2: let an assistant answer questions about business data without handing
it the database. The server exposes

- ``list_tables`` and ``describe_table`` (structure; the table name is checked against the catalogue
  because identifiers cannot be bound as parameters),
- ``top_customers`` and ``orders_for_customer`` (fixed SQL, values bound with ``?`` parameters),
- ``query`` (one SELECT written by the model, its values passed separately in ``params``),
- the resource ``sqlite://schema`` (the ``CREATE`` statements) and the prompt ``ask_database``.

Four independent locks keep it read-only, so no single mistake opens the database to writes: the
file is opened with the ``file:...?mode=ro`` URI and ``PRAGMA query_only``
(:func:`~.guards.connect_readonly`); an *authorizer* (``Connection.set_authorizer``) that SQLite
consults while compiling each statement allows only ``SELECT``, ``READ`` of columns, function
calls (except ``load_extension`` and other functions with side effects) and recursive CTEs and
denies everything else (``INSERT``, ``UPDATE``, ``PRAGMA``, ``ATTACH``, ...); :func:`check_select` accepts exactly one statement (``sqlite3.complete_statement``
finds where the first one ends) that starts with ``SELECT`` or ``WITH``. A progress handler aborts
queries that run too long and results are capped at ``max_rows``.

API: ``create_demo_database(path)``, ``build_sqlite_server(path) -> MCPServer``,
``python -m interviewlib.agents sqlite DB_PATH`` serves it over stdio.
"""

from __future__ import annotations

import pathlib
import sqlite3

import numpy as np

from .guards import connect_readonly
from .mcp_server import MCPServer, ToolError

__all__ = ["build_sqlite_server", "check_select", "create_demo_database"]

_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
_DENIED_FUNCTIONS = {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"}  # side effects or files
_SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, city TEXT NOT NULL);
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
                     product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL,
                     order_date TEXT NOT NULL);
"""
_CUSTOMERS = [("Alice", "Beijing"), ("Bob", "Shanghai"), ("Chen", "Shenzhen"), ("Dana", "Beijing"),
              ("Eve", "Hangzhou"), ("Fang", "Shanghai")]
_PRODUCTS = [("GPU hours", "compute", 2.5), ("Storage TB", "storage", 20.0), ("Support plan", "service", 150.0),
             ("Embedding API", "api", 0.4)]


def create_demo_database(path: str | pathlib.Path, *, n_orders: int = 30, rng: int = 0) -> pathlib.Path:
    """Create the book's small shop database (customers, products, orders) at ``path``.

    Parameters
    ----------
    path : str or pathlib.Path
        A new file ending in ``.db``, ``.sqlite`` or ``.sqlite3`` (an existing one is refused, never
        overwritten).
    n_orders : int
        Number of random orders.
    rng : int
        Seed for the order data.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    See question q11-02.
    """
    if not isinstance(path, (str, pathlib.Path)) or not str(path).strip() or str(path) != str(path).strip():
        raise TypeError(f"path must be a str or Path naming a new database file; got {path!r}.")
    p = pathlib.Path(path)
    if p.suffix not in (".db", ".sqlite", ".sqlite3"):
        raise ValueError(f"path must end in .db, .sqlite or .sqlite3; got {str(p)!r}.")
    if p.exists():
        raise ValueError(f"path {str(p)!r} already exists; give a new file name.")
    if isinstance(n_orders, bool) or not isinstance(n_orders, int) or n_orders < 1:
        raise ValueError(f"n_orders must be an int >= 1; got {n_orders!r}.")
    gen = np.random.default_rng(rng)
    cust = gen.integers(1, len(_CUSTOMERS) + 1, n_orders)
    prod = gen.integers(1, len(_PRODUCTS) + 1, n_orders)
    qty = gen.integers(1, 10, n_orders)
    day = gen.integers(1, 29, n_orders)
    con = sqlite3.connect(p)
    try:
        con.executescript(_SCHEMA)
        con.executemany("INSERT INTO customers (name, city) VALUES (?, ?)", _CUSTOMERS)
        con.executemany("INSERT INTO products (name, category, price) VALUES (?, ?, ?)", _PRODUCTS)
        con.executemany("INSERT INTO orders (customer_id, product_id, quantity, order_date) VALUES (?, ?, ?, ?)",
                        [(int(c), int(q_p), int(q), f"2025-06-{int(d):02d}") for c, q_p, q, d in zip(cust, prod, qty, day)])
        con.commit()
    finally:
        con.close()
    return p


def check_select(sql: str) -> str:
    """Accept exactly one ``SELECT``/``WITH`` statement; return it without the trailing semicolon.

    Examples
    --------
    >>> check_select("SELECT name FROM customers WHERE city = ?;")
    'SELECT name FROM customers WHERE city = ?'
    >>> check_select("SELECT 1; DROP TABLE customers")
    Traceback (most recent call last):
    ...
    ValueError: sql must be a single statement; found more text after the first ';': 'DROP TABLE customers'.

    Notes
    -----
    See question q11-02.
    """
    if not isinstance(sql, str):
        raise TypeError(f"sql must be a str; got {type(sql).__name__}.")
    s = sql.strip()
    for i, ch in enumerate(s):
        if ch == ";" and sqlite3.complete_statement(s[: i + 1]):  # the first statement ends here
            rest = s[i + 1 :].strip()
            if rest:
                raise ValueError(f"sql must be a single statement; found more text after the first ';': {rest[:60]!r}.")
            s = s[:i].strip()
            break
    first = s.split(None, 1)[0].upper() if s else ""
    if first not in ("SELECT", "WITH"):
        raise ValueError(f"sql must be a read-only query starting with SELECT or WITH; got {sql[:60]!r}.")
    return s


def _authorizer(action: int, arg1: object, arg2: object, db: object, trigger: object) -> int:
    """SQLite calls this for every action while compiling a statement: allow reads, deny everything else."""
    if action == sqlite3.SQLITE_FUNCTION and arg2 in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY


def build_sqlite_server(path: str | pathlib.Path, *, max_rows: int = 50, max_steps: int = 2_000_000) -> MCPServer:
    """An :class:`~.mcp_server.MCPServer` serving read-only tools over the SQLite file ``path``.

    Parameters
    ----------
    path : str or pathlib.Path
        An existing SQLite database.
    max_rows : int
        Results are truncated after this many rows (``truncated: true``).
    max_steps : int
        SQLite virtual-machine instructions a query may run before it is aborted.

    Notes
    -----
    See question q11-02.
    """
    if not isinstance(path, (str, pathlib.Path)) or not pathlib.Path(path).is_file():
        raise ValueError(f"path must name an existing SQLite file; got {path!r}.")
    for name, v in (("max_rows", max_rows), ("max_steps", max_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an int >= 1; got {v!r}.")
    db = pathlib.Path(path)

    def run(sql: str, params: list | tuple = (), authorize: bool = True) -> dict:
        con = connect_readonly(db)  # one connection per call: safe across HTTP handler threads
        try:
            budget = [max_steps // 1000]

            def tick() -> int:
                budget[0] -= 1
                return 1 if budget[0] < 0 else 0  # non-zero aborts the statement

            con.set_progress_handler(tick, 1000)
            if authorize:
                con.set_authorizer(_authorizer)
            try:
                cur = con.execute(sql, tuple(params))
                rows = cur.fetchmany(max_rows + 1)
            except sqlite3.DatabaseError as exc:
                reason = "denied by the read-only authorizer" if "not authorized" in str(exc) else str(exc)
                raise ToolError(f"SQL error: {reason}") from None
            columns = [d[0] for d in cur.description or ()]
            return {"columns": columns, "rows": [list(r) for r in rows[:max_rows]], "truncated": len(rows) > max_rows}
        finally:
            con.close()

    def tables() -> list[str]:
        return [r[0] for r in run("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")["rows"]]

    server = MCPServer("sqlite-readonly", "1.0", instructions="Read-only access to a shop database (customers, "
                       "products, orders). Use parameters for every value; only single SELECT statements run.")
    ro = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
    obj = {"type": "object", "additionalProperties": False}

    @server.tool(description="List the tables in the database.", input_schema={**obj, "properties": {}}, annotations=ro)
    def list_tables() -> dict:
        return {"tables": tables()}

    @server.tool(description="Columns of one table: name, type, not-null, primary key.", annotations=ro,
                 input_schema={**obj, "properties": {"table": {"type": "string"}}, "required": ["table"]})
    def describe_table(table: str) -> dict:
        if table not in tables():  # identifiers cannot be bound: allow only names from the catalogue
            raise ToolError(f"Unknown table {table!r}; tables are {tables()}.")
        # pragma_table_info is a PRAGMA, which the authorizer denies; this fixed statement runs without it
        # (the connection stays read-only), and the table name is still bound as a parameter.
        res = run('SELECT name, type, "notnull", pk FROM pragma_table_info(?)', [table], authorize=False)
        return {"table": table, "columns": [dict(zip(res["columns"], r)) for r in res["rows"]]}

    @server.tool(description="Customers ranked by total spend (quantity x price), highest first.", annotations=ro,
                 input_schema={**obj, "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100}}})
    def top_customers(limit: int = 3) -> dict:
        return run("SELECT c.name, c.city, ROUND(SUM(o.quantity * p.price), 2) AS spend FROM orders o "
                   "JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id "
                   "GROUP BY c.id ORDER BY spend DESC, c.name LIMIT ?", [limit])

    @server.tool(description="All orders of one customer (by exact name), newest first.", annotations=ro,
                 input_schema={**obj, "properties": {"name": {"type": "string", "maxLength": 100}},
                               "required": ["name"]})
    def orders_for_customer(name: str) -> dict:
        return run("SELECT o.order_date, p.name AS product, o.quantity, ROUND(o.quantity * p.price, 2) AS amount "
                   "FROM orders o JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id "
                   "WHERE c.name = ? ORDER BY o.order_date DESC, o.id", [name])

    @server.tool(description="Run ONE read-only SELECT. Put every value in params and write ? in the SQL.",
                 annotations=ro, input_schema={**obj, "properties": {
                     "sql": {"type": "string", "maxLength": 4000},
                     "params": {"type": "array", "items": {"type": ["string", "number", "null"]}, "maxItems": 50}},
                     "required": ["sql"]})
    def query(sql: str, params: list | None = None) -> dict:
        try:
            statement = check_select(sql)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        return run(statement, params or [])

    def schema_text() -> str:
        res = run("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return ";\n".join(r[0] for r in res["rows"]) + ";"

    server.add_resource("sqlite://schema", schema_text, name="schema", mime_type="text/x-sql",
                        description="CREATE statements of every table.")
    server.add_prompt("ask_database", lambda question: (
        "Answer the question using only the database tools. Read sqlite://schema first, prefer the "
        f"dedicated tools, and pass every value as a parameter.\nQuestion: {question}"),
        description="Template for answering a question from the database.",
        arguments=[{"name": "question", "description": "What to find out.", "required": True}])
    return server

