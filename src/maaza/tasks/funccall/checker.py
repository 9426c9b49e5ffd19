"""BFCL's AST checker, written by hand: do a model's function calls match a row's possible answers?

The Berkeley Function Calling Leaderboard (BFCL, Patil et al.) scores its non-live single-turn categories
(simple, multiple, parallel, parallel_multiple, irrelevance) by comparing the parsed calls with a list of
possible answers `{func_name: {param: [acceptable values...]}}`, where `""` in a list means the parameter
may be omitted. `check_calls` applies BFCL's rules (their order: `check_call`'s docstring) and names the
first error, as one of `ERROR_CLASSES`; `parameter_triples` and `f1` give the parameter-extraction F1 over
(function, parameter, value) triples, a softer measure of the same comparison.

Why by hand: BFCL's checker is only published inside the `bfcl-eval` package (on PyPI, date-versioned with
no stable API), whose checker module imports every model handler of the leaderboard (it looks up the
model's name to decide whether `a.b` may be spelled `a_b`); the package pins `numpy==1.26.4` and
`tree_sitter==0.21.3` and pulls in the openai, anthropic, mistralai, cohere and google-genai clients,
sentence-transformers and faiss. The rules for Python calls are short, so we keep our
own copy, reading JSON-parsed calls (`{"name", "arguments"}`) and never raising on model output.

Where we knowingly differ from BFCL (all only more careful about types, or more uniform):
- strings are normalised at every depth (BFCL: only top-level strings, list items and dict values);
- a bool never equals an int or float anywhere (BFCL's `in` lets `[True]` equal `[1]` inside lists);
- array items, dict values and nested arrays are type-checked against the spec recursively (BFCL: one level);
- a type `any` parameter accepts any JSON value (BFCL treats it as a string);
- parallel calls are matched by a full search over assignments (BFCL matches greedily, answer by answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ERROR_CLASSES = (
    "wrong_function",
    "missing_parameter",
    "extra_parameter",
    "wrong_value",
    "wrong_type",
    "bad_count",
)

# The characters BFCL's string normalisation drops (with spaces): "April 1, 2024" equals "april 1 2024".
_STRIPPED = re.compile(r"[ ,./\-_*^]")
# Above this many expected calls the F1 assignment is greedy instead of exact (BFCL rows have at most 8).
_EXACT_ASSIGNMENT_LIMIT = 12


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one row's calls: `error_class` is None when valid, else one of ERROR_CLASSES."""

    valid: bool
    error_class: str | None
    detail: str  # names the function, parameter and value at fault ("" when valid)


@dataclass(frozen=True)
class TripleCounts:
    """One row's (function, parameter, value) triple counts for the parameter F1."""

    true_positives: int
    false_positives: int
    false_negatives: int


_VALID = CheckResult(True, None, "")


def _fail(error_class: str, detail: str) -> CheckResult:
    return CheckResult(False, error_class, detail)


# ----------------------------------------------------------------------------- values


def standardize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and `,./-_*^`, lowercase, and `'` becomes `"`."""
    return _STRIPPED.sub("", text).lower().replace("'", '"')


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_ok(value: Any, spec_type: Any) -> bool:
    """Whether a value has a BFCL spec type; an int passes as a float, a bool is never a number."""
    if spec_type == "string":
        return isinstance(value, str)
    if spec_type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec_type == "float":
        return _is_number(value)
    if spec_type == "boolean":
        return isinstance(value, bool)
    if spec_type in ("array", "tuple"):  # JSON has no tuple: a tuple arrives as a list
        return isinstance(value, list | tuple)
    if spec_type == "dict":
        return isinstance(value, dict)
    return True  # "any", or a type BFCL does not define: no constraint


def _type_error(value: Any, spec: Mapping[str, Any] | None, path: str) -> str | None:
    """Why a value does not have its spec's type, looking into array items and dict properties; or None."""
    if not isinstance(spec, Mapping):
        return None
    spec_type = spec.get("type")
    if not _type_ok(value, spec_type):
        return f"parameter {path!r} should be {spec_type}, got {type(value).__name__} {value!r}"
    items = spec.get("items")
    if isinstance(value, list | tuple) and isinstance(items, Mapping):
        for index, item in enumerate(value):
            error = _type_error(item, items, f"{path}[{index}]")
            if error:
                return error
    properties = spec.get("properties")
    if isinstance(value, dict) and isinstance(properties, Mapping):
        for key, item in value.items():
            error = _type_error(item, properties.get(key), f"{path}.{key}")
            if error:
                return error
    return None


def _literally_equal(value: Any, answer: Any) -> bool:
    """Equal and of the same JSON kinds all the way down (BFCL's "variable": a value of the answer's type)."""
    if type(value) is not type(answer):
        return False
    if isinstance(value, list | tuple):
        return len(value) == len(answer) and all(map(_literally_equal, value, answer))
    if isinstance(value, dict):
        return value.keys() == answer.keys() and all(_literally_equal(value[k], answer[k]) for k in value)
    return bool(value == answer)


def _matches(value: Any, answer: Any) -> bool:
    """Whether a value equals one possible answer: strings normalised, lists element-wise, dicts key-wise."""
    if isinstance(answer, dict):
        return isinstance(value, dict) and _dict_mismatch(value, answer, "") is None
    if isinstance(answer, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(answer)
            and all(_matches(item, expected) for item, expected in zip(value, answer, strict=True))
        )
    if isinstance(answer, str):
        return isinstance(value, str) and standardize_string(value) == standardize_string(answer)
    if isinstance(answer, bool) or isinstance(value, bool):
        return isinstance(answer, bool) and isinstance(value, bool) and value == answer
    if _is_number(answer):
        return _is_number(value) and value == answer
    return _literally_equal(value, answer)


def _answer_list(answers: Any) -> list[Any]:
    return list(answers) if isinstance(answers, list | tuple) else [answers]


def _dict_mismatch(value: Mapping[str, Any], answer: Mapping[str, Any], path: str) -> str | None:
    """Why a dict differs from a dict possible answer (key -> acceptable values); None when it matches."""
    for key, item in value.items():
        if key not in answer:
            return f"unexpected key {key!r} in dict {path!r}" if path else f"unexpected key {key!r}"
        accepted = _answer_list(answer[key])
        if not any(_matches(item, expected) for expected in accepted):
            return f"{path}.{key} = {item!r} is not one of {accepted!r}" if path else f"{key} = {item!r}"
    for key, accepted in answer.items():
        if key not in value and "" not in _answer_list(accepted):
            return f"missing key {key!r} in dict {path!r}" if path else f"missing key {key!r}"
    return None


def _value_error(value: Any, answers: list[Any], spec: Mapping[str, Any] | None, path: str) -> CheckResult:
    """The verdict on one parameter value: its type against the spec, then its value against the answers."""
    type_error = _type_error(value, spec, path)
    if type_error is not None:
        # BFCL accepts a value of the answers' own type even against the spec ("variables", e.g. a null
        # listed as the answer of an optional float); a value literally listed is what it expects.
        if any(_literally_equal(value, answer) for answer in answers if answer != ""):
            return _VALID
        return _fail("wrong_type", type_error)
    if any(_matches(value, answer) for answer in answers):
        return _VALID
    candidates = [answer for answer in answers if answer != ""]
    if len(candidates) == 1 and isinstance(candidates[0], dict) and isinstance(value, dict):
        return _fail("wrong_value", f"parameter {path!r}: {_dict_mismatch(value, candidates[0], path)}")
    return _fail("wrong_value", f"parameter {path!r} = {value!r} is not one of {answers!r}")


# ----------------------------------------------------------------------------- one call


def _names_match(called: Any, expected: str) -> bool:
    """BFCL lets a model spell `a.b` as `a_b` (APIs that forbid dots in function names)."""
    return isinstance(called, str) and called in (expected, expected.replace(".", "_"))


def _find_spec(functions: Sequence[Any], name: str) -> Mapping[str, Any] | None:
    for function in functions:
        if isinstance(function, Mapping) and function.get("name") == name:
            return function
    return None


def _expected(entry: Any) -> tuple[str, dict[str, list[Any]]]:
    """An answer entry `{name: {param: [values]}}` as (name, params)."""
    if not isinstance(entry, Mapping) or not entry:
        return "", {}
    name, params = next(iter(entry.items()))
    params = params if isinstance(params, Mapping) else {}
    return str(name), {param: _answer_list(values) for param, values in params.items()}


def _spec_parts(spec: Mapping[str, Any] | None) -> tuple[Mapping[str, Any] | None, list[str]]:
    """A function spec's (properties, required); properties None when the spec is unknown."""
    if spec is None:
        return None, []
    parameters = spec.get("parameters")
    parameters = parameters if isinstance(parameters, Mapping) else {}
    properties = parameters.get("properties")
    required = parameters.get("required")
    return (
        properties if isinstance(properties, Mapping) else {},
        [str(param) for param in required] if isinstance(required, list) else [],
    )


def _offered(name: Any, functions: Sequence[Any]) -> bool:
    return any(isinstance(f, Mapping) and _names_match(name, str(f.get("name"))) for f in functions)


def check_call(call: Any, entry: Mapping[str, Any], functions: Sequence[Any]) -> CheckResult:
    """One call against one expected answer entry (BFCL's simple-function check), first error wins: the
    name (`a.b` or `a_b`), then every parameter the spec requires present, then each given parameter in
    the spec and the answer, of the spec's type, among the answers; last, every answer parameter whose
    answers hold no "" present."""
    name, answers = _expected(entry)
    if not isinstance(call, Mapping):
        return _fail("wrong_type", f"a call should be an object with a name and arguments, got {call!r}")
    called = call.get("name")
    if not _names_match(called, name):
        where = "" if _offered(called, functions) else " (not among the offered functions)"
        return _fail("wrong_function", f"called {called!r}{where}, expected {name!r}")
    arguments = call.get("arguments", {})
    if not isinstance(arguments, Mapping):
        return _fail("wrong_type", f"{name}: arguments should be an object, got {type(arguments).__name__}")
    properties, required = _spec_parts(_find_spec(functions, name))
    for param in required:
        if param not in arguments:
            return _fail("missing_parameter", f"{name}: required parameter {param!r} is missing")
    for param, value in arguments.items():
        if param not in answers or (properties is not None and param not in properties):
            return _fail("extra_parameter", f"{name}: unexpected parameter {param!r} = {value!r}")
        spec = properties.get(param) if properties is not None else None
        result = _value_error(value, answers[param], spec, param)
        if not result.valid:
            return _fail(str(result.error_class), f"{name}: {result.detail}")
    for param, values in answers.items():
        if param not in arguments and "" not in values:
            return _fail(
                "missing_parameter", f"{name}: parameter {param!r} is missing (expected one of {values!r})"
            )
    return _VALID


# ----------------------------------------------------------------------------- a row's calls


def _call_name(call: Any) -> str:
    return repr(call.get("name")) if isinstance(call, Mapping) else repr(call)


def _call_text(call: Any, limit: int = 120) -> str:
    """A call as `name(arguments)` for a detail, shortened to about `limit` characters."""
    if isinstance(call, Mapping):
        arguments = call.get("arguments")
        if isinstance(arguments, Mapping):
            text = f"{call.get('name')}({', '.join(f'{k}={v!r}' for k, v in arguments.items())})"
        else:
            text = f"{call.get('name')}({arguments!r})"
    else:
        text = repr(call)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _maximum_matching(fits: list[list[bool]]) -> list[int | None]:
    """For each expected entry (row of `fits`, one column per call), the call it is matched to, or None."""
    call_of: list[int | None] = [None] * len(fits)
    entry_of: dict[int, int] = {}

    def augment(entry: int, seen: set[int]) -> bool:
        for call, fit in enumerate(fits[entry]):
            if fit and call not in seen:
                seen.add(call)
                if call not in entry_of or augment(entry_of[call], seen):
                    entry_of[call] = entry
                    call_of[entry] = call
                    return True
        return False

    for entry in range(len(fits)):
        augment(entry, set())
    return call_of


def check_calls(calls: list[dict], ground_truth: list[dict] | None, functions: list[dict]) -> CheckResult:
    """BFCL's AST verdict on a row: the calls must match the expected calls one to one, in any order."""
    calls = list(calls) if isinstance(calls, list | tuple) else []
    entries = list(ground_truth or [])
    functions = list(functions or [])
    if not entries:
        if calls:
            names = ", ".join(_call_name(call) for call in calls)
            return _fail("bad_count", f"called {names} but no function fits")
        return _VALID
    expected_names = ", ".join(repr(_expected(entry)[0]) for entry in entries)
    if len(calls) != len(entries):
        return _fail("bad_count", f"expected {len(entries)} call(s) ({expected_names}), got {len(calls)}")
    results = [[check_call(call, entry, functions) for call in calls] for entry in entries]
    matching = _maximum_matching([[result.valid for result in row] for row in results])
    if all(call is not None for call in matching):
        return _VALID
    if len(entries) == 1:
        return results[0][0]
    # Report the first expected call left without a partner, against a call also left over: one of the same
    # function first (its error names a parameter), else a wrong function.
    matched = {call for call in matching if call is not None}
    entry = matching.index(None)
    spare = [call for call in range(len(calls)) if call not in matched]
    call = min(spare, key=lambda index: (results[entry][index].error_class == "wrong_function", index))
    name = _expected(entries[entry])[0]
    result = results[entry][call]
    return _fail(
        str(result.error_class),
        f"no call matches expected call {entry} ({name!r}); call {call} {_call_text(calls[call])}: {result.detail}",
    )


# ----------------------------------------------------------------------------- parameter F1


def _pair_scores(call: Any, entry: Mapping[str, Any], functions: Sequence[Any]) -> tuple[int, int] | None:
    """(right required-by-answer triples, right optional triples) of a call against an entry of its name."""
    name, answers = _expected(entry)
    if not isinstance(call, Mapping) or not _names_match(call.get("name"), name):
        return None
    arguments = call.get("arguments")
    if not isinstance(arguments, Mapping):
        return 0, 0
    properties, _ = _spec_parts(_find_spec(functions, name))
    required_hits = optional_hits = 0
    for param, value in arguments.items():
        if param not in answers or (properties is not None and param not in properties):
            continue
        spec = properties.get(param) if properties is not None else None
        if _value_error(value, answers[param], spec, param).valid:
            if "" in answers[param]:
                optional_hits += 1
            else:
                required_hits += 1
    return required_hits, optional_hits


def _best_assignment(scores: list[list[tuple[int, int] | None]]) -> list[tuple[int, int]]:
    """The (entry, call) pairs of a one-to-one assignment that maximises the right triples."""
    n_entries = len(scores)
    n_calls = len(scores[0]) if scores else 0

    def gain(entry: int, call: int) -> int:
        score = scores[entry][call]
        return -1 if score is None else sum(score)

    if n_entries > _EXACT_ASSIGNMENT_LIMIT:  # greedy: the best remaining pair first
        pairs = sorted(
            (
                (entry, call)
                for entry in range(n_entries)
                for call in range(n_calls)
                if gain(entry, call) >= 0
            ),
            key=lambda pair: -gain(*pair),
        )
        used_entries: set[int] = set()
        used_calls: set[int] = set()
        chosen = []
        for entry, call in pairs:
            if entry not in used_entries and call not in used_calls:
                used_entries.add(entry)
                used_calls.add(call)
                chosen.append((entry, call))
        return chosen
    # exact: over the calls in turn, the best total for each set of entries already taken
    best: dict[int, tuple[int, list[tuple[int, int]]]] = {0: (0, [])}
    for call in range(n_calls):
        step = dict(best)
        for mask, (total, chosen) in best.items():
            for entry in range(n_entries):
                if mask & (1 << entry) or gain(entry, call) < 0:
                    continue
                key = mask | (1 << entry)
                candidate = (total + gain(entry, call), [*chosen, (entry, call)])
                if key not in step or candidate[0] > step[key][0]:
                    step[key] = candidate
        best = step
    return max(best.values(), key=lambda item: item[0])[1]


def parameter_triples(
    calls: list[dict], ground_truth: list[dict] | None, functions: list[dict] | None = None
) -> TripleCounts:
    """Triple counts of a row: predicted triples are every (name, parameter, value) of the calls, expected
    ones every answer parameter that may not be omitted plus the optional ones the calls got right. A
    predicted triple is right when the expected call of that name it is assigned to (one to one, the best
    assignment) accepts the value. `functions`, when given, adds the spec's type checks."""
    calls = list(calls) if isinstance(calls, list | tuple) else []
    entries = list(ground_truth or [])
    functions = list(functions or [])
    predicted = sum(
        len(call["arguments"])
        for call in calls
        if isinstance(call, Mapping) and isinstance(call.get("arguments"), Mapping)
    )
    expected = sum(sum("" not in values for values in _expected(entry)[1].values()) for entry in entries)
    scores = [[_pair_scores(call, entry, functions) for call in calls] for entry in entries]
    required_hits = optional_hits = 0
    for entry, call in _best_assignment(scores):
        score = scores[entry][call]
        if score is not None:
            required_hits += score[0]
            optional_hits += score[1]
    true_positives = required_hits + optional_hits
    return TripleCounts(true_positives, predicted - true_positives, expected - required_hits)


def f1(counts: Iterable[TripleCounts]) -> dict[str, float | None]:
    """Micro precision, recall and F1 over the summed counts; None where a ratio has no denominator."""
    tp = fp = fn = 0
    for count in counts:
        tp += count.true_positives
        fp += count.false_positives
        fn += count.false_negatives
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
    }
