"""The tool-argument validator (`json_schema.schema_errors`) against `jsonschema` (draft 2020-12).

`jsonschema` is the independent reference: on every (instance, schema) pair from the subset that
tool schemas use, "no errors" must agree with `Draft202012Validator.is_valid`.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from interviewlib.agents.json_schema import schema_errors

jsonschema = pytest.importorskip("jsonschema")
REF = jsonschema.Draft202012Validator

WEATHER = {
    "type": "object",
    "required": ["city"],
    "additionalProperties": False,
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[A-Za-z ]+$"},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "unit": {"enum": ["C", "F"]},
        "hours": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": -1, "exclusiveMaximum": 24},
                  "minItems": 1, "maxItems": 3},
        "note": {"type": ["string", "null"]},
        "extra": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}

# hand-picked cases where hand-written validators often differ from the standard
CASES = [
    ({"city": "Paris"}, True),
    ({"city": "Paris", "days": 3.0}, True),        # 3.0 is an integer in draft 2020-12
    ({"city": "Paris", "days": True}, False),      # a boolean is not a number
    ({"city": "Paris", "days": 3.5}, False),
    ({"city": "Paris", "days": 0}, False),
    ({"city": "Paris", "days": 15}, False),
    ({"city": ""}, False),
    ({"city": "Par1s"}, False),                    # pattern
    ({"city": "x" * 41}, False),
    ({}, False),                                   # required
    ({"city": "Paris", "country": "FR"}, False),   # additionalProperties: false
    ({"city": "Paris", "unit": "K"}, False),
    ({"city": "Paris", "hours": []}, False),
    ({"city": "Paris", "hours": [0, 23]}, True),
    ({"city": "Paris", "hours": [24]}, False),     # exclusiveMaximum
    ({"city": "Paris", "hours": [-1]}, False),     # exclusiveMinimum
    ({"city": "Paris", "hours": [1, 2, 3, 4]}, False),
    ({"city": "Paris", "note": None}, True),       # type list
    ({"city": "Paris", "note": 3}, False),
    ({"city": "Paris", "extra": {"a": 1.5}}, True),
    ({"city": "Paris", "extra": {"a": "x"}}, False),
    ("Paris", False),
    (None, False),
]


@pytest.mark.parametrize(("instance", "valid"), CASES)
def test_hand_cases_agree_with_jsonschema(instance, valid):
    assert REF(WEATHER).is_valid(instance) is valid  # the hand labels are right ...
    assert (not schema_errors(instance, WEATHER)) is valid  # ... and ours agrees


def test_messages_name_the_path():
    errors = schema_errors({"days": 0, "country": "FR"}, WEATHER)
    assert any("city" in e and "required" in e for e in errors)
    assert any(e.startswith("$.days") for e in errors)
    assert any("country" in e for e in errors)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-30, 30),
                         st.floats(-30, 30, allow_nan=False, allow_infinity=False),
                         st.sampled_from([1.0, 3.0, 2.5]), st.text(alphabet="ab Z1", max_size=5))
json_values = st.recursive(json_scalars, lambda c: st.one_of(
    st.lists(c, max_size=4), st.dictionaries(st.sampled_from(["city", "days", "unit", "hours", "note", "extra", "zz"]),
                                              c, max_size=4)), max_leaves=8)

leaf_schemas = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])}),
    st.fixed_dictionaries({"type": st.just("integer")}, optional={"minimum": st.integers(-5, 5), "maximum": st.integers(-5, 5)}),
    st.fixed_dictionaries({"type": st.just("number")}, optional={"exclusiveMinimum": st.floats(-5, 5), "exclusiveMaximum": st.floats(-5, 5)}),
    st.fixed_dictionaries({"type": st.just("string")}, optional={"minLength": st.integers(0, 3), "maxLength": st.integers(0, 4),
                                                               "pattern": st.sampled_from(["a", "^Z", "1$"])}),
    st.fixed_dictionaries({"enum": st.lists(st.one_of(st.text(alphabet="ab", max_size=2), st.integers(-3, 3)), min_size=1, max_size=3)}),
    st.fixed_dictionaries({"type": st.just(["string", "null"])}),
)
schemas = st.recursive(leaf_schemas, lambda c: st.one_of(
    st.fixed_dictionaries({"type": st.just("array"), "items": c}, optional={"minItems": st.integers(0, 2), "maxItems": st.integers(0, 3)}),
    st.fixed_dictionaries({"type": st.just("object"), "properties": st.dictionaries(st.sampled_from(["city", "days", "note"]), c, max_size=3)},
                          optional={"required": st.lists(st.sampled_from(["city", "days"]), unique=True, max_size=2),
                                    "additionalProperties": st.one_of(st.booleans(), c)}),
), max_leaves=5)


@settings(max_examples=25, deadline=None)
@given(schema=schemas, instances=st.lists(json_values, min_size=10, max_size=10))
def test_random_schemas_agree_with_jsonschema(schema, instances):
    ref = REF(schema)
    for x in instances:
        assert (not schema_errors(x, schema)) == ref.is_valid(x), (x, schema, schema_errors(x, schema))


@settings(max_examples=25, deadline=None)
@given(x=json_values)
def test_weather_schema_random_instances(x):
    assert (not schema_errors(x, WEATHER)) == REF(WEATHER).is_valid(x)


def test_integer_type_edge_cases():
    for x, ok in [(1.0, True), (True, False), (2**60, True), (math.pi, False)]:
        assert (not schema_errors(x, {"type": "integer"})) is ok is REF({"type": "integer"}).is_valid(x)


def test_enum_does_not_confuse_booleans_and_numbers():
    # Python says True == 1; JSON Schema says a boolean never equals a number (1 and 1.0 are equal)
    for schema, value in (({"enum": [1, 0]}, True), ({"const": 0}, False), ({"enum": [[1]]}, [True])):
        assert REF(schema).is_valid(value) is False
        assert schema_errors(value, schema) != []
    for schema, value in (({"enum": [1]}, 1.0), ({"const": True}, True), ({"enum": [{"a": [1]}]}, {"a": [1]})):
        assert REF(schema).is_valid(value) is True
        assert schema_errors(value, schema) == []


def test_bad_schema_argument():
    with pytest.raises(TypeError, match="schema must be a dict"):
        schema_errors({}, None)
    with pytest.raises(TypeError, match="schema must be a dict"):
        schema_errors({}, "not valid")
