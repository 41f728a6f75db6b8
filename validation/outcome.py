"""What a set of expectation results means: pass or fail, counts by severity, one line per failure.

Pure Python on the JSON form of Great Expectations' results, so the rules that decide whether a dataset ships are
unit-tested without running Great Expectations. The rules:

- an expectation that raised (``exception_info.raised_exception``, at the top level or per metric) is *errored*
  and never counts as passed, whatever its ``success`` says;
- an ``error``-severity (GE ``critical``) expectation that failed or errored fails the validation;
- ``warning`` and ``info`` expectations are reported and never block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Great Expectations' severities -> the words the recipe and the reports use.
SEVERITY_NAMES = {"critical": "error", "warning": "warning", "info": "info"}
BLOCKING = "error"


def severity_of(result: dict) -> str:
    config = result.get("expectation_config") or {}
    raw = config.get("severity") or (config.get("meta") or {}).get("severity") or "critical"
    return SEVERITY_NAMES.get(str(raw).lower(), "error")


def _first_line(message) -> str:
    lines = str(message or "").strip().splitlines()
    return (lines[0] if lines else "raised an exception")[:300]


def raised(result: dict) -> str | None:
    """The exception message (first line) when the expectation errored, else ``None``."""
    info = result.get("exception_info") or {}
    if info.get("raised_exception"):
        return _first_line(info.get("exception_message"))
    for value in info.values():  # per-metric form: {metric id: {raised_exception, exception_message, ...}}
        if isinstance(value, dict) and value.get("raised_exception"):
            return _first_line(value.get("exception_message"))
    return None


def status_of(result: dict) -> str:
    if raised(result) is not None:
        return "errored"
    return "passed" if result.get("success") is True else "failed"


@dataclass
class Outcome:
    success: bool
    counts: dict[str, dict[str, int]]
    failures: list[dict] = field(default_factory=list)

    @property
    def blocking(self) -> list[dict]:
        return [f for f in self.failures if f["severity"] == BLOCKING]


def _observed(result: dict):
    body = result.get("result") or {}
    if "observed_value" in body:
        return body["observed_value"]
    if "unexpected_count" in body:
        return {
            "unexpected_count": body.get("unexpected_count"),
            "element_count": body.get("element_count"),
            "unexpected_percent": body.get("unexpected_percent"),
        }
    return None


def _examples(result: dict, column: str | None) -> list:
    body = result.get("result") or {}
    rows = body.get("partial_unexpected_index_list") or []
    keys = body.get("unexpected_index_column_names") or []
    out = []
    for row in rows:
        if isinstance(row, dict):
            out.append({k: row.get(k) for k in [*keys, column] if k in row})
    return out


def failure(suite: str, result: dict) -> dict:
    config = result.get("expectation_config") or {}
    kwargs = config.get("kwargs") or {}
    meta = config.get("meta") or {}
    return {
        "suite": suite,
        "expectation": config.get("type"),
        "column": kwargs.get("column"),
        "severity": severity_of(result),
        "status": status_of(result),
        "check": meta.get("check"),
        "recipe_field": meta.get("recipe_field"),
        "thresholds": {k: kwargs[k] for k in ("min_value", "max_value", "value", "value_set", "mostly") if k in kwargs},
        "observed": _observed(result),
        "examples": _examples(result, kwargs.get("column")),
        "exception": raised(result),
    }


def interpret(results: list[tuple[str, dict]]) -> Outcome:
    """Fold ``(suite, result)`` pairs into counts per severity and the failures, worst first."""
    counts: dict[str, dict[str, int]] = {}
    failures = []
    for suite, result in results:
        severity = severity_of(result)
        status = status_of(result)
        bucket = counts.setdefault(severity, {"evaluated": 0, "passed": 0, "failed": 0, "errored": 0})
        bucket["evaluated"] += 1
        bucket[status] += 1
        if status != "passed":
            failures.append(failure(suite, result))
    for severity in ("error", "warning"):
        counts.setdefault(severity, {"evaluated": 0, "passed": 0, "failed": 0, "errored": 0})
    order = {"error": 0, "warning": 1, "info": 2}
    failures.sort(key=lambda f: order.get(f["severity"], 3))
    success = not any(f["severity"] == BLOCKING for f in failures)
    return Outcome(success=success, counts=counts, failures=failures)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict) and "unexpected_count" in value:
        return f"{value['unexpected_count']} of {value['element_count']} rows unexpected"
    return str(value)


def describe(item: dict) -> str:
    """One line per failure: severity, suite, expectation and column, the recipe field, what was observed."""
    target = f"{item['expectation']}({item['column']})" if item["column"] else item["expectation"]
    limits = ", ".join(f"{k}={_short(v)}" for k, v in item["thresholds"].items())
    where = f" [{item['recipe_field']}: {limits}]" if item["recipe_field"] else f" [{limits}]" if limits else ""
    if item["status"] == "errored":
        return f"{item['severity']}: {item['suite']}: {target} errored{where}: {item['exception']}"
    line = f"{item['severity']}: {item['suite']}: {target} failed{where}: observed {_short(item['observed'])}"
    if item["examples"]:
        shown = "; ".join(", ".join(f"{k}={_short(v)}" for k, v in ex.items()) for ex in item["examples"][:5])
        line += f", e.g. {shown}"
    return line


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def verdict(success: bool, counts: dict[str, dict[str, int]]) -> str:
    """The one verdict the Data Docs, the report, the card and ``synth validate`` all state, by the rules above:
    ``passed``, ``passed with 10 warnings``, ``FAILED: 1 error, 10 warnings``."""
    failing = {s: c.get("failed", 0) + c.get("errored", 0) for s, c in counts.items()}
    warnings = failing.get("warning", 0)
    if success:
        return f"passed with {_plural(warnings, 'warning')}" if warnings else "passed"
    parts = [_plural(failing.get(BLOCKING, 0), "error")] + ([_plural(warnings, "warning")] if warnings else [])
    return "FAILED: " + ", ".join(parts)


def absent_line(entry: dict, samples: int) -> str:
    """One line for a class in no mask at all (``synth validate`` and the report say the same)."""
    return (
        f"absent: class {entry['class']} (id {entry['id']}) is in none of the {samples} masks; "
        f"likely: {entry['reason']}"
    )
