"""The vars' schema: every kind of mistake is one line naming the problem, before any work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import message, write_lines
from event_analytics.cli import app
from event_analytics.config import PipelineVars, check_vars, default_vars, readme_with_vars_table, vars_table
from event_analytics.plan import compile_plan, read_plan
from event_analytics.project import EXIT_CONFIG_ERROR, ConfigError, project_dir

PLAN_EVENTS = compile_plan(read_plan())["events"]


def funnel(*steps: object, **extra: object) -> dict:
    return {"funnels": [{"name": "f", "steps": list(steps), "window_days": 7, **extra}]}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # an unknown name, with the nearest known one
        ({"session_timout_minutes": 45}, "unknown var session_timout_minutes; did you mean session_timeout_minutes?"),
        ({"zzz": 1}, "unknown var zzz"),
        # types
        ({"session_timeout_minutes": "30m"}, "var session_timeout_minutes: input should be a valid number, not '30m'"),
        ({"session_timeout_minutes": "30"}, "var session_timeout_minutes: input should be a valid number, not '30'"),
        ({"session_timeout_minutes": True}, "var session_timeout_minutes: input should be a valid number, not True"),
        ({"landing_max_line_bytes": 1.5}, "var landing_max_line_bytes: input should be a valid integer, not 1.5"),
        ({"funnel_breakdowns": "utm_source"}, "var funnel_breakdowns: input should be a valid list, not 'utm_source'"),
        # ranges
        ({"session_timeout_minutes": -5}, "var session_timeout_minutes: input should be greater than 0, not -5"),
        ({"session_timeout_minutes": 0}, "var session_timeout_minutes: input should be greater than 0, not 0"),
        (
            {"session_timeout_minutes": 10**18},
            "var session_timeout_minutes: input should be less than or equal to 10080",
        ),
        ({"experiment_window_days": -1}, "var experiment_window_days: input should be greater than 0, not -1"),
        ({"max_future_minutes": -1}, "var max_future_minutes: input should be greater than or equal to 0, not -1"),
        (
            {"experiment_expected_split": {"exp": {"control": -1}}},
            "var experiment_expected_split.exp.control: input should be greater than or equal to 0, not -1",
        ),
        (
            {"max_rejected_share": 0.6},
            "vars: max_rejected_share must not exceed max_rejected_share_error",
        ),
        # enums
        ({"retention_grain": "weekly"}, "var retention_grain: input should be 'week', 'day' or 'month', not 'weekly'"),
        ({"tracking_plan_mode": "bogus"}, "var tracking_plan_mode: input should be 'enforce' or 'flag', not 'bogus'"),
        ({"funnel_unit": "team"}, "var funnel_unit: input should be 'user' or 'group', not 'team'"),
        # funnels: shape, then against the tracking plan
        (funnel("product_viewed"), "var funnels[0].steps: list should have at least 2 items after validation, not 1"),
        (funnel("product_viewed", 3), "var funnels[0].steps[1]: input should be a valid string, not 3"),
        (
            funnel("product_viewed", "order_completed", window_day=3),
            "unknown key in var funnels[0]: window_day; did you mean window_days?",
        ),
        (
            funnel("product_viewed", {"event": "order_completed", "wher": {"currency": "EUR"}}),
            "unknown key in var funnels[0].steps[1]: wher; did you mean where?",
        ),
        (
            funnel("product_viewed", "order_complete"),
            "funnel f step 2: unknown event order_complete; did you mean order_completed? (not in the plan)",
        ),
        (
            funnel("product_viewed", {"event": "order_completed", "where": {"currencyy": "EUR"}}),
            "funnel f step 2: unknown property of order_completed: currencyy; did you mean currency?",
        ),
        (
            funnel("page_viewed", {"event": "cart_shared", "where": {"recipient": "a@b.c"}}),
            "funnel f step 2: cart_shared.recipient is personal data, never in fct_events as sent",
        ),
        # names checked against the plan and the marts' contracts
        (
            {"experiment_guardrail_events": ["checkout failed"]},
            "var experiment_guardrail_events: unknown event checkout failed; did you mean checkout_failed?",
        ),
        ({"experiment_goal_event": "purchase"}, "var experiment_goal_event: unknown event purchase"),
        (
            {"retention_event": "signup_complete"},
            "var retention_event: unknown event signup_complete; did you mean signup_completed?",
        ),
        (
            {"funnel_breakdowns": ["utm_sourc"]},
            "var funnel_breakdowns: unknown fct_sessions column utm_sourc; did you mean utm_source?",
        ),
    ],
)
def test_a_mistake_is_one_line_naming_it(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_vars(overrides, PLAN_EVENTS)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_the_defaults_and_good_overrides_pass() -> None:
    settings, warnings = check_vars({}, PLAN_EVENTS)
    assert settings.session_timeout_minutes == 30 and warnings == []
    settings, warnings = check_vars(
        {
            "session_timeout_minutes": 45,
            "funnel_breakdowns": ["utm_source", "landing_page_path"],
            "retention_event": "order_completed",
            **funnel("product_viewed", {"event": "order_completed", "where": {"currency": "EUR"}}),
        },
        PLAN_EVENTS,
    )
    assert settings.funnels[0].steps[1].where == {"currency": "EUR"} and warnings == []


def test_allow_unplanned_funnel_steps_makes_them_warnings() -> None:
    overrides = {
        "allow_unplanned_funnel_steps": True,
        **funnel("product_viewed", "order_complete", {"event": "order_completed", "where": {"x": 1}}),
    }
    _, warnings = check_vars(overrides, PLAN_EVENTS)
    assert warnings == [
        "funnel f step 2: unknown event order_complete; did you mean order_completed? (not in the plan)",
        "funnel f step 3: unknown property of order_completed: x",
    ]
    # other names stay errors
    with pytest.raises(ConfigError, match="experiment_goal_event"):
        check_vars({**overrides, "experiment_goal_event": "nope"}, PLAN_EVENTS)


def test_every_var_in_dbt_project_is_in_the_schema_and_the_other_way_round() -> None:
    # plan_lint_events is set by sqlfluff's context, and has no default
    assert set(default_vars()) == set(PipelineVars.model_fields) - {"plan_lint_events"}


def test_readme_table_of_vars_is_current() -> None:
    readme = (project_dir() / "README.md").read_text()
    found = re.search(r"<!-- vars:start -->\n(.*?)<!-- vars:end -->", readme, re.S)
    assert found, "README lacks the generated table of vars"
    assert found.group(1) == vars_table(), "README's table of vars is stale: run `event-analytics vars docs`"
    assert readme_with_vars_table(readme) == readme
    stale = readme.replace("| `session_timeout_minutes` |", "| `session_timeout` |")
    assert readme_with_vars_table(stale) == readme


def test_the_table_names_every_var_with_its_default() -> None:
    table = vars_table()
    for name in PipelineVars.model_fields:
        assert f"| `{name}` |" in table
    assert "| `session_timeout_minutes` | number > 0 ≤ 10080 | `30` |" in table
    assert "| `retention_grain` | `week` \\| `day` \\| `month` | `week` |" in table
    assert all(line.startswith("|") for line in table.splitlines())


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("{session_timout_minutes: 45}", "unknown var session_timout_minutes; did you mean session_timeout_minutes?"),
        ("{retention_grain: weekly}", "var retention_grain: input should be 'week', 'day' or 'month', not 'weekly'"),
        ("{funnel_breakdowns: [utm_sourc]}", "var funnel_breakdowns: unknown fct_sessions column utm_sourc"),
    ],
)
def test_the_cli_refuses_bad_vars_with_exit_2_before_any_work(tmp_path: Path, text: str, line: str) -> None:
    landing = write_lines(tmp_path / "landing" / "a.jsonl", [message("m1", "2026-10-01T10:00:00Z", anonymous_id="d")])
    result = CliRunner().invoke(
        app, ["run", "--landing", str(landing.parent), "--warehouse", str(tmp_path / "w.duckdb"), "--vars", text]
    )
    assert result.exit_code == EXIT_CONFIG_ERROR
    assert result.stderr.strip().splitlines()[-1].startswith(f"event-analytics: {line}")
    assert not (tmp_path / "w.duckdb").exists()
