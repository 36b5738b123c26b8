"""Our tool-argument validator agrees with the reference ``jsonschema`` (draft 2020-12) on valid/invalid."""

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.agents import schema_errors

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"],
     "additionalProperties": False},
    {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100}}},
    {"type": "object", "properties": {"sql": {"type": "string", "maxLength": 10, "minLength": 1},
                                      "params": {"type": "array", "items": {"type": ["string", "number", "null"]},
                                                 "maxItems": 3}}, "required": ["sql"]},
    {"type": "object", "properties": {"mode": {"enum": ["fast", "slow"]}, "x": {"type": "number",
                                                                            "exclusiveMinimum": 0}},
     "additionalProperties": {"type": "boolean"}},
    {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}$"}, "v": {"const": 1}}},
]

values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(-5, 200, allow_nan=False) | st.text("abAZ;", max_size=12),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=6,
)
instances = st.dictionaries(st.sampled_from(["a", "b", "limit", "sql", "params", "mode", "x", "code", "v", "zz"]),
                            values, max_size=4)


@settings(max_examples=25, deadline=None)
@given(instance=instances, which=st.integers(0, len(SCHEMAS) - 1))
def test_agrees_with_jsonschema(instance, which):
    schema = SCHEMAS[which]
    expected = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert (schema_errors(instance, schema) == []) == expected


@pytest.mark.parametrize(("instance", "valid"), [
    ({"a": 1, "b": 2}, True),
    ({"a": 1.0, "b": 2}, True),  # 1.0 is an integer in JSON Schema 2020-12
    ({"a": True, "b": 2}, False),  # booleans are not numbers
    ({"a": 1}, False),
    ({"a": 1, "b": 2, "c": 3}, False),
    ({"a": "1", "b": 2}, False),
])
def test_hand_worked_cases(instance, valid):
    schema = SCHEMAS[0]
    assert (schema_errors(instance, schema) == []) is valid
    assert jsonschema.Draft202012Validator(schema).is_valid(instance) is valid


def test_messages_name_the_path():
    errs = schema_errors({"sql": "", "params": [1, {}]}, SCHEMAS[2])
    assert any(e.startswith("$.sql:") for e in errs) and any(e.startswith("$.params[1]:") for e in errs)


@pytest.mark.parametrize("bad", [None, "not valid", float("nan"), [[1], [1, 2]]])
def test_bad_schema_argument(bad):
    with pytest.raises(TypeError, match="schema must be a dict"):
        schema_errors({}, bad)
