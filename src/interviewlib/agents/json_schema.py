"""A small JSON Schema validator for tool arguments (the subset that tool input schemas use).

MCP tools declare their arguments as a JSON Schema object (``inputSchema``; JSON Schema 2020-12 is
the default dialect since MCP 2025-11-25). A server must check the arguments a model produced before
running the tool. This module checks the keywords that tool schemas use in practice: ``type``
(including lists of types), ``properties``, ``required``, ``additionalProperties`` (bool or schema),
``items``, ``enum``, ``const``, ``minimum``/``maximum``, ``exclusiveMinimum``/``exclusiveMaximum``,
``minLength``/``maxLength``, ``minItems``/``maxItems`` and ``pattern``. Unknown keywords are ignored,
as JSON Schema prescribes for annotations; a full validator (``jsonschema``) would add ``$ref``,
``oneOf`` and the rest.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["schema_errors"]

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # JSON has one number type; booleans are not numbers, 1.0 is an integer (JSON Schema 2020-12).
    "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v == int(v),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
}


def schema_errors(instance: Any, schema: dict) -> list[str]:
    """List the ways ``instance`` violates ``schema`` (empty list = valid).

    Parameters
    ----------
    instance : object
        A decoded JSON value (the ``arguments`` of a tool call).
    schema : dict
        A JSON Schema object.

    Returns
    -------
    list of str
        One readable message per violation, each prefixed with the JSON path (``$.limit``).

    Examples
    --------
    >>> s = {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1}},
    ...      "required": ["limit"], "additionalProperties": False}
    >>> schema_errors({"limit": 3}, s)
    []
    >>> schema_errors({"limit": 0, "x": 1}, s)
    ['$.limit: 0 is less than the minimum 1', "$: unexpected property 'x'"]

    Notes
    -----
    See question q11-01.
    """
    if not isinstance(schema, dict):
        raise TypeError(f"schema must be a dict (a JSON Schema object); got {type(schema).__name__}.")
    errors: list[str] = []
    _check(instance, schema, "$", errors)
    return errors



def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: a boolean is never a number (Python says ``True == 1``); 1 and 1.0 are equal."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b

def _check(v: Any, s: dict, path: str, out: list[str]) -> None:
    if "type" in s:
        allowed = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_TYPES.get(t, lambda _: False)(v) for t in allowed):
            out.append(f"{path}: expected {' or '.join(allowed)}, got {_json_type(v)}")
            return
    if "const" in s and not _json_equal(v, s["const"]):
        out.append(f"{path}: must equal {s['const']!r}")
    if "enum" in s and not any(_json_equal(v, e) for e in s["enum"]):
        out.append(f"{path}: {v!r} is not one of {s['enum']!r}")
    if _TYPES["number"](v):
        _check_number(v, s, path, out)
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            out.append(f"{path}: shorter than {s['minLength']} characters")
        if "maxLength" in s and len(v) > s["maxLength"]:
            out.append(f"{path}: longer than {s['maxLength']} characters")
        if "pattern" in s and not re.search(s["pattern"], v):
            out.append(f"{path}: does not match pattern {s['pattern']!r}")
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            out.append(f"{path}: fewer than {s['minItems']} items")
        if "maxItems" in s and len(v) > s["maxItems"]:
            out.append(f"{path}: more than {s['maxItems']} items")
        if isinstance(s.get("items"), dict):
            for i, item in enumerate(v):
                _check(item, s["items"], f"{path}[{i}]", out)
    if isinstance(v, dict):
        props = s.get("properties", {})
        for name in s.get("required", []):
            if name not in v:
                out.append(f"{path}: missing required property {name!r}")
        for name, value in v.items():
            if name in props:
                _check(value, props[name], f"{path}.{name}", out)
            elif s.get("additionalProperties") is False:
                out.append(f"{path}: unexpected property {name!r}")
            elif isinstance(s.get("additionalProperties"), dict):
                _check(value, s["additionalProperties"], f"{path}.{name}", out)


def _check_number(v: float, s: dict, path: str, out: list[str]) -> None:
    if "minimum" in s and v < s["minimum"]:
        out.append(f"{path}: {v} is less than the minimum {s['minimum']}")
    if "maximum" in s and v > s["maximum"]:
        out.append(f"{path}: {v} is greater than the maximum {s['maximum']}")
    if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
        out.append(f"{path}: {v} must be greater than {s['exclusiveMinimum']}")
    if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
        out.append(f"{path}: {v} must be less than {s['exclusiveMaximum']}")


def _json_type(v: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](v):
            return name
    return type(v).__name__
