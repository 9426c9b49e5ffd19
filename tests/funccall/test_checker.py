"""The BFCL AST checker (maaza.tasks.funccall.checker): each rule passing and failing, then the real data.

The hand-made cases follow BFCL's documented rules and its data (function specs with `"type": "dict"`,
possible answers `{name: {param: [values]}}` with `""` for "may be omitted"). The data test builds the gold
calls of every row of every BFCL category under the data root and checks that they pass and that a broken
call does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maaza.paths import data_root
from maaza.tasks.funccall.checker import (
    ERROR_CLASSES,
    CheckResult,
    TripleCounts,
    check_calls,
    f1,
    parameter_triples,
    standardize_string,
)


def spec(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A BFCL function spec."""
    return {
        "name": name,
        "description": f"{name} (test)",
        "parameters": {"type": "dict", "properties": properties, "required": required},
    }


WEATHER = spec(
    "weather.get",
    {
        "location": {"type": "string", "description": "City and state"},
        "days": {"type": "integer", "description": "Days ahead"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "detailed": {"type": "boolean", "default": False},
    },
    ["location", "days"],
)
AREA = spec(
    "circle_area",
    {"radius": {"type": "float"}, "precision": {"type": "integer", "default": 2}},
    ["radius"],
)
SONGS = spec(
    "spotify.play",
    {
        "artists": {"type": "array", "items": {"type": "string"}},
        "durations": {"type": "array", "items": {"type": "integer"}},
        "point": {"type": "tuple", "items": {"type": "float"}},
        "table": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    },
    ["artists"],
)
QUERY = spec(
    "database.query",
    {
        "table": {"type": "string"},
        "conditions": {
            "type": "array",
            "items": {
                "type": "dict",
                "properties": {
                    "field": {"type": "string"},
                    "operation": {"type": "string"},
                    "value": {"type": "string"},
                },
            },
        },
        "budget": {"type": "dict", "properties": {"min": {"type": "float"}, "max": {"type": "float"}}},
        "scores": {"type": "dict", "description": "subject -> score"},
        "data": {"type": "any"},
        "mod": {"type": "float", "default": None},
    },
    ["table"],
)
FUNCTIONS = [WEATHER, AREA, SONGS, QUERY]

WEATHER_ANSWER = {
    "weather.get": {
        "location": ["San Francisco, CA", "SF"],
        "days": [3],
        "unit": ["", "celsius"],
        "detailed": [True],
    }
}


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def weather(**overrides: Any) -> dict[str, Any]:
    """A call that matches WEATHER_ANSWER, with some arguments replaced (None drops one)."""
    arguments: dict[str, Any] = {"location": "San Francisco, CA", "days": 3, "detailed": True}
    arguments.update(overrides)
    return {"name": "weather.get", "arguments": {k: v for k, v in arguments.items() if v is not None}}


def check_one(one_call: dict[str, Any], answer: dict[str, Any] = WEATHER_ANSWER) -> CheckResult:
    return check_calls([one_call], [answer], FUNCTIONS)


def assert_fails(result: CheckResult, error_class: str, *in_detail: str) -> None:
    assert not result.valid, result
    assert result.error_class == error_class, result
    for text in in_detail:
        assert text in result.detail, result


def test_a_matching_call_is_valid_with_no_error() -> None:
    assert check_one(weather()) == CheckResult(True, None, "")
    assert set(ERROR_CLASSES) == {
        "wrong_function",
        "missing_parameter",
        "extra_parameter",
        "wrong_value",
        "wrong_type",
        "bad_count",
    }


# ----------------------------------------------------------------------------- function name


def test_the_name_may_spell_dots_as_underscores() -> None:
    assert check_one({**weather(), "name": "weather_get"}).valid


def test_another_offered_function_is_wrong_function() -> None:
    assert_fails(
        check_one({**weather(), "name": "circle_area"}), "wrong_function", "'circle_area'", "'weather.get'"
    )


def test_a_function_not_offered_is_wrong_function() -> None:
    result = check_one({**weather(), "name": "weather.fetch"})
    assert_fails(result, "wrong_function", "not among the offered functions")
    assert_fails(check_one({**weather(), "name": "weather-get"}), "wrong_function")


# ----------------------------------------------------------------------------- parameters present / absent


def test_a_missing_required_parameter_is_missing_parameter() -> None:
    assert_fails(check_one(weather(days=None)), "missing_parameter", "'days'", "weather.get")


def test_spec_required_wins_over_an_omittable_answer() -> None:
    # BFCL checks the spec's `required` first: "" in the answer does not excuse a required parameter
    answer = {"weather.get": {"location": ["SF"], "days": ["", 3], "detailed": [True]}}
    assert_fails(check_one(weather(location="SF", days=None), answer), "missing_parameter", "'days'")
    assert check_one(weather(location="SF"), answer).valid


def test_a_parameter_outside_the_spec_is_extra_parameter() -> None:
    assert_fails(check_one(weather(country="US")), "extra_parameter", "'country'")


def test_a_spec_parameter_the_answer_does_not_list_is_extra_parameter() -> None:
    answer = {"weather.get": {"location": ["SF"], "days": [3]}}
    assert check_one(weather(location="SF", detailed=None), answer).valid
    assert_fails(check_one(weather(location="SF"), answer), "extra_parameter", "'detailed'")


def test_an_optional_parameter_may_be_absent_only_when_its_answers_hold_the_empty_string() -> None:
    assert check_one(weather()).valid  # unit: ["", "celsius"] absent
    assert check_one(weather(unit="celsius")).valid
    assert_fails(check_one(weather(unit="fahrenheit")), "wrong_value", "'unit'", "fahrenheit")
    # detailed is optional in the spec but its answers ([True]) hold no "": it must be given
    assert_fails(check_one(weather(detailed=None)), "missing_parameter", "'detailed'")


# ----------------------------------------------------------------------------- values and types


def test_a_value_among_the_answers_passes_and_another_is_wrong_value() -> None:
    assert check_one(weather(location="SF")).valid
    assert_fails(check_one(weather(days=4)), "wrong_value", "'days'", "4")


@pytest.mark.parametrize(
    ("given", "answer"),
    [
        ("san francisco ca", "San Francisco, CA"),
        ("SAN-FRANCISCO,CA", "San Francisco, CA"),
        ("April 1 2024", "April 1, 2024"),
        ("new_york.city", "New York City"),
        ("say 'hi'", 'say "hi"'),
        ("2*3^2", "23 2"),
    ],
)
def test_strings_compare_after_bfcl_normalisation(given: str, answer: str) -> None:
    assert standardize_string(given) == standardize_string(answer)
    assert check_one(
        weather(location=given), {"weather.get": {**WEATHER_ANSWER["weather.get"], "location": [answer]}}
    ).valid


def test_normalisation_keeps_other_characters() -> None:
    assert standardize_string("San Francisco, CA") == "sanfranciscoca"
    assert standardize_string("C++ (v2)!") == "c++(v2)!"
    assert_fails(check_one(weather(location="San Jose, CA")), "wrong_value", "San Jose, CA")
    assert_fails(check_one(weather(location="San Francisco, CA!")), "wrong_value")


def test_an_int_passes_for_a_float_but_not_a_float_for_an_integer() -> None:
    answer = {"circle_area": {"radius": [5.0], "precision": ["", 2]}}
    assert check_one(call("circle_area", radius=5), answer).valid
    assert check_one(call("circle_area", radius=5.0), answer).valid
    assert check_one(call("circle_area", radius=5.0, precision=2), answer).valid
    assert_fails(
        check_one(call("circle_area", radius=5.0, precision=2.0), answer),
        "wrong_type",
        "'precision'",
        "float",
    )
    assert_fails(check_one(weather(days=3.0)), "wrong_type", "'days'", "integer")


def test_a_bool_is_never_a_number_nor_a_number_a_bool() -> None:
    answer = {"circle_area": {"radius": [1.0], "precision": [1]}}
    assert_fails(
        check_one(call("circle_area", radius=True, precision=1), answer), "wrong_type", "'radius'", "bool"
    )
    assert_fails(
        check_one(call("circle_area", radius=1.0, precision=True), answer), "wrong_type", "'precision'"
    )
    assert_fails(check_one(weather(detailed=1)), "wrong_type", "'detailed'", "boolean")
    songs = {"spotify.play": {"artists": [["a"]], "durations": [[1, 0]]}}
    assert check_one(call("spotify.play", artists=["a"], durations=[1, 0]), songs).valid
    assert_fails(
        check_one(call("spotify.play", artists=["a"], durations=[True, False]), songs),
        "wrong_type",
        "durations[0]",
    )


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"location": 94103}, "'location'"),
        ({"days": "3"}, "'days'"),
        ({"detailed": "true"}, "'detailed'"),
    ],
)
def test_a_value_of_another_type_is_wrong_type(arguments: dict[str, Any], param: str) -> None:
    assert_fails(check_one(weather(**arguments)), "wrong_type", param)


def test_a_value_literally_listed_passes_its_type_check_like_a_bfcl_variable() -> None:
    answer = {"database.query": {"table": ["t"], "mod": ["", None]}}
    assert check_one(call("database.query", table="t", mod=None), answer).valid
    assert check_one(call("database.query", table="t"), answer).valid
    assert_fails(check_one(call("database.query", table="t", mod="None"), answer), "wrong_type", "'mod'")


def test_type_any_takes_any_value_compared_with_the_answers() -> None:
    answer = {"database.query": {"table": ["t"], "data": ["my_data", 3]}}
    assert check_one(call("database.query", table="t", data="My Data"), answer).valid
    assert check_one(call("database.query", table="t", data=3), answer).valid
    assert_fails(check_one(call("database.query", table="t", data=[3]), answer), "wrong_value", "'data'")


# ----------------------------------------------------------------------------- lists and dicts


def test_lists_compare_element_wise_with_strings_normalised() -> None:
    answer = {
        "spotify.play": {"artists": [["Taylor Swift", "Maroon 5"], ["Maroon 5"]], "durations": ["", [20, 15]]}
    }
    assert check_one(call("spotify.play", artists=["taylor swift", "maroon5"]), answer).valid
    assert check_one(call("spotify.play", artists=["Maroon 5"], durations=[20, 15]), answer).valid
    assert_fails(
        check_one(call("spotify.play", artists=["Maroon 5", "Taylor Swift"]), answer),
        "wrong_value",
        "'artists'",
    )
    assert_fails(
        check_one(
            call("spotify.play", artists=["Taylor Swift"]),
            {"spotify.play": {"artists": [["Taylor Swift", "Maroon 5"]]}},
        ),
        "wrong_value",
    )
    assert_fails(
        check_one(call("spotify.play", artists=["Maroon 5"], durations=[20, 15, 1]), answer),
        "wrong_value",
        "'durations'",
    )


def test_list_items_are_type_checked_by_the_items_type() -> None:
    answer = {"spotify.play": {"artists": [["a"]], "durations": [[20]], "point": ["", [1.0, 2.5]]}}
    assert_fails(
        check_one(call("spotify.play", artists=["a"], durations=["20"]), answer), "wrong_type", "durations[0]"
    )
    assert_fails(check_one(call("spotify.play", artists="a"), answer), "wrong_type", "'artists'")
    # a tuple arrives as a JSON list; its float items take ints
    assert check_one(call("spotify.play", artists=["a"], durations=[20], point=[1, 2.5]), answer).valid
    assert_fails(
        check_one(call("spotify.play", artists=["a"], durations=[20], point=(1.0, "2.5")), answer),
        "wrong_type",
        "point[1]",
    )


def test_nested_lists_compare_and_type_check_at_every_depth() -> None:
    answer = {"spotify.play": {"artists": [["a"]], "table": [[[10, 20], [30, 40]]]}}
    assert check_one(call("spotify.play", artists=["a"], table=[[10, 20], [30, 40]]), answer).valid
    assert_fails(
        check_one(call("spotify.play", artists=["a"], table=[[10, 20], [40, 30]]), answer),
        "wrong_value",
        "'table'",
    )
    assert_fails(
        check_one(call("spotify.play", artists=["a"], table=[[10, 20], [30, "40"]]), answer),
        "wrong_type",
        "table[1][1]",
    )


BUDGET_ANSWER = {
    "database.query": {"table": ["homes"], "budget": [{"min": [300000], "max": [400000, 450000.0]}]}
}


def test_dicts_compare_key_wise_against_dict_answers() -> None:
    assert check_one(
        call("database.query", table="Homes", budget={"min": 300000.0, "max": 450000}), BUDGET_ANSWER
    ).valid
    assert check_one(
        call("database.query", table="homes", budget={"max": 400000, "min": 300000}), BUDGET_ANSWER
    ).valid
    result = check_one(call("database.query", table="homes", budget={"min": 1, "max": 400000}), BUDGET_ANSWER)
    assert_fails(result, "wrong_value", "'budget'", "min")


def test_dict_keys_must_match_the_answer_keys() -> None:
    extra = check_one(
        call("database.query", table="homes", budget={"min": 300000, "max": 400000, "cur": 1}), BUDGET_ANSWER
    )
    assert_fails(extra, "wrong_value", "unexpected key 'cur'")
    missing = check_one(call("database.query", table="homes", budget={"min": 300000}), BUDGET_ANSWER)
    assert_fails(missing, "wrong_value", "missing key 'max'")
    optional = {"database.query": {"table": ["homes"], "budget": [{"min": [300000], "max": ["", 400000]}]}}
    assert check_one(call("database.query", table="homes", budget={"min": 300000}), optional).valid


def test_dict_values_are_type_checked_by_the_spec_properties() -> None:
    result = check_one(
        call("database.query", table="homes", budget={"min": "300000", "max": 400000}), BUDGET_ANSWER
    )
    assert_fails(result, "wrong_type", "budget.min")
    assert_fails(
        check_one(call("database.query", table="homes", budget=[300000, 400000]), BUDGET_ANSWER),
        "wrong_type",
        "'budget'",
    )


def test_a_free_form_dict_normalises_its_strings_and_nested_lists() -> None:
    answer = {
        "database.query": {
            "table": ["t"],
            "scores": [{"Math": [90], "Cards": [["A of spades", "K of spades"]]}],
        }
    }
    assert check_one(
        call("database.query", table="t", scores={"Math": 90, "Cards": ["a of spades", "K of Spades"]}),
        answer,
    ).valid
    assert_fails(
        check_one(
            call("database.query", table="t", scores={"Math": True, "Cards": ["A of spades", "K of spades"]}),
            answer,
        ),
        "wrong_value",
        "Math",
    )


def test_a_list_of_dicts_compares_each_dict_in_order() -> None:
    answer = {
        "database.query": {
            "table": ["user"],
            "conditions": [
                [
                    {"field": ["age"], "operation": [">"], "value": ["25"]},
                    {"field": ["job"], "operation": ["="], "value": ["engineer", "Engineer"]},
                ]
            ],
        }
    }
    good = [
        {"field": "age", "operation": ">", "value": "25"},
        {"field": "job", "operation": "=", "value": "ENGINEER"},
    ]
    assert check_one(call("database.query", table="user", conditions=good), answer).valid
    assert_fails(
        check_one(call("database.query", table="user", conditions=good[::-1]), answer),
        "wrong_value",
        "'conditions'",
    )
    assert_fails(check_one(call("database.query", table="user", conditions=good[:1]), answer), "wrong_value")
    typed = [{"field": "age", "operation": ">", "value": 25}, good[1]]
    assert_fails(
        check_one(call("database.query", table="user", conditions=typed), answer),
        "wrong_type",
        "conditions[0].value",
    )


# ----------------------------------------------------------------------------- counts, parallel, irrelevance


PARALLEL_ANSWER = [
    {"weather.get": {"location": ["Boston, MA"], "days": [1], "detailed": ["", False]}},
    {"weather.get": {"location": ["Austin, TX"], "days": [2], "detailed": ["", False]}},
    {"circle_area": {"radius": [2.0], "precision": ["", 2]}},
]
PARALLEL_CALLS = [
    call("weather.get", location="Boston, MA", days=1),
    call("weather.get", location="Austin, TX", days=2),
    call("circle_area", radius=2),
]


def test_parallel_calls_match_in_any_order() -> None:
    assert check_calls(PARALLEL_CALLS, PARALLEL_ANSWER, FUNCTIONS).valid
    assert check_calls(PARALLEL_CALLS[::-1], PARALLEL_ANSWER, FUNCTIONS).valid
    assert check_calls(
        [PARALLEL_CALLS[1], PARALLEL_CALLS[2], PARALLEL_CALLS[0]], PARALLEL_ANSWER, FUNCTIONS
    ).valid


def test_parallel_calls_must_match_in_number() -> None:
    assert_fails(
        check_calls(PARALLEL_CALLS[:2], PARALLEL_ANSWER, FUNCTIONS), "bad_count", "expected 3", "got 2"
    )
    assert_fails(check_calls([*PARALLEL_CALLS, PARALLEL_CALLS[0]], PARALLEL_ANSWER, FUNCTIONS), "bad_count")
    assert_fails(check_calls([], PARALLEL_ANSWER, FUNCTIONS), "bad_count", "got 0")
    assert_fails(check_calls([weather(), weather()], [WEATHER_ANSWER], FUNCTIONS), "bad_count", "expected 1")


def test_a_parallel_mismatch_reports_the_most_informative_error() -> None:
    calls = [PARALLEL_CALLS[2], call("weather.get", location="Austin, TX", days=3), PARALLEL_CALLS[0]]
    # the wrong call is compared with the expected call of its own function, not reported as a wrong function
    assert_fails(check_calls(calls, PARALLEL_ANSWER, FUNCTIONS), "wrong_value", "'days'", "Austin")
    calls = [PARALLEL_CALLS[0], PARALLEL_CALLS[1], call("weather.get", location="Paris", days=1)]
    assert_fails(check_calls(calls, PARALLEL_ANSWER, FUNCTIONS), "wrong_function", "'circle_area'")
    calls = [PARALLEL_CALLS[0], call("weather.get", location="Austin, TX"), PARALLEL_CALLS[2]]
    assert_fails(check_calls(calls, PARALLEL_ANSWER, FUNCTIONS), "missing_parameter", "'days'")


def test_parallel_matching_searches_assignments_instead_of_taking_the_first_fit() -> None:
    # expected 0 accepts either city, expected 1 only Boston: greedy answer-by-answer matching would give
    # Boston to expected 0 and fail; a one-to-one assignment exists
    answer = [
        {"weather.get": {"location": ["Boston, MA", "Austin, TX"], "days": [1]}},
        {"weather.get": {"location": ["Boston, MA"], "days": [1]}},
    ]
    calls = [
        call("weather.get", location="Boston, MA", days=1),
        call("weather.get", location="Austin, TX", days=1),
    ]
    assert check_calls(calls, answer, FUNCTIONS).valid
    assert check_calls(calls[::-1], answer, FUNCTIONS).valid
    assert_fails(check_calls([calls[1], calls[1]], answer, FUNCTIONS), "wrong_value", "Austin")


@pytest.mark.parametrize("ground_truth", [None, []])
def test_irrelevance_is_valid_only_without_a_call(ground_truth: list[dict] | None) -> None:
    assert check_calls([], ground_truth, FUNCTIONS).valid
    result = check_calls([weather()], ground_truth, FUNCTIONS)
    assert_fails(result, "bad_count")
    assert result.detail == "called 'weather.get' but no function fits"


def test_expected_calls_but_none_made_is_bad_count() -> None:
    assert_fails(check_calls([], [WEATHER_ANSWER], FUNCTIONS), "bad_count", "'weather.get'", "got 0")


# ----------------------------------------------------------------------------- model output it must survive


@pytest.mark.parametrize(
    ("bad_call", "error_class"),
    [
        ({"name": "weather.get", "arguments": '{"location": "SF", "days": 3}'}, "wrong_type"),
        ({"name": "weather.get", "arguments": ["SF", 3]}, "wrong_type"),
        ({"name": "weather.get", "arguments": None}, "wrong_type"),
        ({"name": "weather.get"}, "missing_parameter"),
        ({"name": None, "arguments": {}}, "wrong_function"),
        ({"arguments": {"location": "SF", "days": 3}}, "wrong_function"),
        ("weather.get(location='SF')", "wrong_type"),
        (None, "wrong_type"),
    ],
)
def test_malformed_calls_are_errors_not_exceptions(bad_call: Any, error_class: str) -> None:
    assert_fails(check_calls([bad_call], [WEATHER_ANSWER], FUNCTIONS), error_class)
    counts = parameter_triples([bad_call], [WEATHER_ANSWER], FUNCTIONS)
    assert counts.true_positives == 0


def test_calls_that_are_not_a_list_count_as_no_call() -> None:
    assert check_calls(None, None, FUNCTIONS).valid  # type: ignore[arg-type]
    assert_fails(check_calls("oops", [WEATHER_ANSWER], FUNCTIONS), "bad_count")  # type: ignore[arg-type]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FUZZ_CALL = st.fixed_dictionaries(
    {"name": st.sampled_from(["weather.get", "weather_get", "circle_area", "x"]) | JSON_VALUES},
    optional={
        "arguments": st.dictionaries(
            st.sampled_from(["location", "days", "unit", "detailed", "zz"]), JSON_VALUES
        )
        | JSON_VALUES
    },
)


@settings(max_examples=150, derandomize=True, deadline=None)
@given(st.lists(FUZZ_CALL | JSON_VALUES, max_size=3))
def test_any_model_output_gets_a_verdict(calls: list[Any]) -> None:
    for ground_truth in ([WEATHER_ANSWER], PARALLEL_ANSWER, None):
        result = check_calls(calls, ground_truth, FUNCTIONS)
        assert result.valid == (result.error_class is None)
        assert result.error_class is None or result.error_class in ERROR_CLASSES
        assert result.valid or result.detail
        counts = parameter_triples(calls, ground_truth, FUNCTIONS)
        assert min(counts.true_positives, counts.false_positives, counts.false_negatives) >= 0


# ----------------------------------------------------------------------------- parameter F1


def test_a_right_call_has_only_true_positives() -> None:
    # location, days, detailed are required by the answer; unit (optional) given right also counts
    assert parameter_triples([weather()], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(3, 0, 0)
    assert parameter_triples([weather(unit="celsius")], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(4, 0, 0)


def test_wrong_and_missing_values_are_false_positives_and_negatives() -> None:
    assert parameter_triples([weather(days=4)], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(2, 1, 1)
    assert parameter_triples([weather(days=None)], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(2, 0, 1)
    assert parameter_triples([weather(unit="kelvin")], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(3, 1, 0)
    assert parameter_triples([weather(country="US")], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(3, 1, 0)
    # the same comparison rules as the checker: a float for an integer is wrong, an int for a float right
    assert parameter_triples([weather(days=3.0)], [WEATHER_ANSWER], FUNCTIONS) == TripleCounts(2, 1, 1)
    assert parameter_triples(
        [call("circle_area", radius=2)], [PARALLEL_ANSWER[2]], FUNCTIONS
    ) == TripleCounts(1, 0, 0)


def test_a_wrong_function_makes_every_triple_wrong() -> None:
    assert parameter_triples(
        [{**weather(), "name": "weather.fetch"}], [WEATHER_ANSWER], FUNCTIONS
    ) == TripleCounts(0, 3, 3)
    # BFCL's dot-to-underscore spelling is the same function
    assert parameter_triples(
        [{**weather(), "name": "weather_get"}], [WEATHER_ANSWER], FUNCTIONS
    ) == TripleCounts(3, 0, 0)


def test_parallel_triples_take_the_best_one_to_one_assignment() -> None:
    assert parameter_triples(PARALLEL_CALLS[::-1], PARALLEL_ANSWER, FUNCTIONS) == TripleCounts(5, 0, 0)
    # one city twice: only one of the two weather calls may pair with Boston
    calls = [PARALLEL_CALLS[0], PARALLEL_CALLS[0], PARALLEL_CALLS[2]]
    assert parameter_triples(calls, PARALLEL_ANSWER, FUNCTIONS) == TripleCounts(3, 2, 2)
    assert parameter_triples(PARALLEL_CALLS[:1], PARALLEL_ANSWER, FUNCTIONS) == TripleCounts(2, 0, 3)


def test_irrelevance_triples() -> None:
    assert parameter_triples([], None, FUNCTIONS) == TripleCounts(0, 0, 0)
    assert parameter_triples([weather()], None, FUNCTIONS) == TripleCounts(0, 3, 0)
    assert parameter_triples([weather()], [WEATHER_ANSWER]) == TripleCounts(3, 0, 0)  # functions are optional


def test_f1_is_micro_over_summed_counts() -> None:
    scores = f1([TripleCounts(3, 1, 0), TripleCounts(1, 0, 3)])
    assert scores == pytest.approx({"precision": 4 / 5, "recall": 4 / 7, "f1": 8 / 12})
    assert f1([]) == {"precision": None, "recall": None, "f1": None}
    assert f1([TripleCounts(0, 0, 0)]) == {"precision": None, "recall": None, "f1": None}
    assert f1([TripleCounts(0, 0, 2)]) == {"precision": None, "recall": 0.0, "f1": 0.0}
    assert f1(iter([TripleCounts(2, 0, 0)])) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}


# ----------------------------------------------------------------------------- the real BFCL data

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")


def bfcl_dir() -> Path:
    root = data_root()
    folder = root / "bfcl" if root is not None else None
    if folder is None or not folder.is_dir():
        pytest.skip(f"no BFCL data under the data root ({root}); set MAAZA_DATA_DIR")
    return folder


def load_rows(category: str) -> list[dict[str, Any]]:
    path = bfcl_dir() / f"{category}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_value(answer: Any) -> Any:
    """A concrete value of one possible answer: a dict answer (key -> values) takes each key's first value."""
    if isinstance(answer, dict):
        return {key: gold_value(given[0]) for key, values in answer.items() if (given := acceptable(values))}
    if isinstance(answer, list):
        return [gold_value(item) for item in answer]
    return answer


def acceptable(values: list[Any]) -> list[Any]:
    """The acceptable values but the omission marker ""."""
    return [value for value in values if value != ""]


def gold_calls(row: dict[str, Any], minimal: bool) -> list[dict[str, Any]]:
    """A row's gold calls: each answer parameter of the spec with its first acceptable value; `minimal` omits
    those the answer lets go ("" listed) unless the spec requires them. (Taking the first value literally and
    omitting a parameter whose first value is "" fails BFCL's own rules on two rows: simple_python_200 lists
    "" first for a spec-required parameter, parallel_multiple_26 answers a parameter the spec lacks.)"""
    specs = {function["name"]: function["parameters"] for function in row["functions"]}
    calls = []
    for entry in row["ground_truth"] or []:
        ((name, answers),) = entry.items()
        properties, required = specs[name]["properties"], specs[name].get("required", [])
        arguments = {}
        for param, values in answers.items():
            if param not in properties or (minimal and "" in values and param not in required):
                continue
            if given := acceptable(values):
                arguments[param] = gold_value(given[0])
        calls.append({"name": name, "arguments": arguments})
    return calls


@pytest.mark.parametrize("category", CATEGORIES)
def test_bfcl_gold_calls_pass_and_broken_ones_fail(category: str) -> None:
    rows = load_rows(category)
    assert len(rows) >= 200
    failures = []
    for row in rows:
        truth, functions = row["ground_truth"], row["functions"]
        for minimal in (False, True):
            calls = gold_calls(row, minimal)
            result = check_calls(calls, truth, functions)
            if not result.valid:
                failures.append((row["id"], minimal, result.detail))
            counts = parameter_triples(calls, truth, functions)
            assert counts.false_positives == counts.false_negatives == 0, (row["id"], counts)
        if truth is None:
            assert_fails(
                check_calls([{"name": functions[0]["name"], "arguments": {}}], truth, functions), "bad_count"
            )
            continue
        calls = gold_calls(row, minimal=False)
        renamed = [{**calls[0], "name": calls[0]["name"] + "_v2"}, *calls[1:]]
        assert_fails(check_calls(renamed, truth, functions), "wrong_function")
        required = {f["name"]: f["parameters"].get("required", []) for f in functions}[calls[0]["name"]]
        if required:
            dropped = {
                **calls[0],
                "arguments": {k: v for k, v in calls[0]["arguments"].items() if k != required[0]},
            }
            assert_fails(
                check_calls([dropped, *calls[1:]], truth, functions), "missing_parameter", repr(required[0])
            )
        if len(calls) > 1:
            assert_fails(check_calls(calls[1:], truth, functions), "bad_count")
    assert not failures, failures[:5]
