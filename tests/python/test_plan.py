"""Linting the tracking plan."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from event_analytics.cli import app
from event_analytics.plan import lint, load_plan, normalised, plan_path

runner = CliRunner()


def shipped_plan() -> dict:
    return load_plan(plan_path().read_text())


def messages(plan: dict, previous: dict | None = None) -> set[str]:
    return {str(problem) for problem in lint(plan, previous)}


def test_shipped_plan_is_clean_and_covers_the_generator() -> None:
    from event_analytics.generate import EVENT_NAMES

    plan = shipped_plan()
    assert messages(plan) == set()
    assert set(EVENT_NAMES) <= set(plan["events"])
    assert plan["events"]["user_identified"]["traits"]["email"]["pii"] is True
    assert plan["context"]["ip"]["pii"] is True


def test_every_problem_is_listed() -> None:
    plan = shipped_plan()
    events = plan["events"]
    events["Button_Clicked"] = {"description": "x", "owner": "web", "version": "1-0-0", "properties": {}}
    events["button_clicked"] = {"description": "x", "owner": "web", "version": "1-0-0", "properties": {}}
    events["btn_click"] = {"description": "", "version": "1.0", "properties": {"contact_email": {"type": "string"}}}
    events["order_completed"]["properties"]["shipping_address"] = {"type": "string", "pii": False}
    events["order_completed"]["properties"]["coupon"] = {"type": "text"}
    assert messages(plan) == {
        "Button_Clicked: name is not snake_case object_action (e.g. product_added)",
        "button_clicked: near-duplicate of Button_Clicked",
        "btn_click: near-duplicate of Button_Clicked",
        "btn_click: missing description",
        "btn_click: missing owner",
        "btn_click: version '1.0' is not SchemaVer MODEL-REVISION-ADDITION",
        "btn_click.properties.contact_email: name suggests personal data: mark it pii: true, or pii: false with "
        "a pii_note",
        "order_completed.properties.shipping_address: name suggests personal data: mark it pii: true, or pii: "
        "false with a pii_note",
        "order_completed.properties.coupon: type 'text' is not one of array, boolean, integer, number, object, "
        "string, timestamp",
    }


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Button_Clicked", "button_clicked", True),
        ("btn_click", "button_clicked", True),
        ("productAdded", "product_added", True),
        ("product_added", "product_viewed", False),
    ],
)
def test_near_duplicate_names(a: str, b: str, same: bool) -> None:
    assert (normalised(a) == normalised(b)) is same


def test_breaking_changes_need_a_model_bump() -> None:
    previous = shipped_plan()
    current = copy.deepcopy(previous)
    props = current["events"]["order_completed"]["properties"]
    del props["currency"]
    props["revenue"]["type"] = "string"
    props["coupon"] = {"type": "string", "required": True, "pii": False}
    current["events"]["product_viewed"]["properties"]["brand"] = {"type": "string", "required": False, "pii": False}
    assert messages(current, previous) == {
        "order_completed: breaking change without a MODEL bump: properties.currency removed",
        "order_completed: breaking change without a MODEL bump: properties.revenue retyped number -> string",
        "order_completed: breaking change without a MODEL bump: properties.coupon is newly required",
    }
    current["events"]["order_completed"]["version"] = "2-0-0"
    assert messages(current, previous) == set()


def test_plan_check_cli_against_a_git_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = shipped_plan()
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setenv("EVENT_ANALYTICS_PROJECT_DIR", str(repo))
    (repo / "tracking_plan.yml").write_text(yaml.safe_dump(plan))
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qam", "plan", "--allow-empty"], cwd=repo, check=True)
    subprocess.run(["git", "add", "tracking_plan.yml"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "plan"], cwd=repo, check=True)
    # dbt's copy of the plan is generated; check fails until `plan compile` has written it.
    stale = runner.invoke(app, ["plan", "check"])
    assert stale.exit_code == 1
    assert "tracking_plan.sql: out of date: run `event-analytics plan compile`" in stale.stderr
    (repo / "macros").mkdir()
    assert runner.invoke(app, ["plan", "compile"]).exit_code == 0
    assert runner.invoke(app, ["plan", "check", "--against", "HEAD"]).exit_code == 0

    del plan["events"]["checkout_failed"]["properties"]["reason"]
    (repo / "tracking_plan.yml").write_text(yaml.safe_dump(plan))
    result = runner.invoke(app, ["plan", "check", "--against", "HEAD"])
    assert result.exit_code == 1
    assert "checkout_failed: breaking change without a MODEL bump: properties.reason removed" in result.stderr
    assert runner.invoke(app, ["plan", "check", "--against", "no-such-rev"]).exit_code == 2


def test_plan_docs_counts_events_and_violations_from_the_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create schema staging")
        con.execute(
            "create table marts.fct_events as select * from (values "
            "('product_added'), ('product_added'), ('page_viewed'), ('coupon_sprayed')) as t(event_name)"
        )
        con.execute(
            "create table staging.stg_segment__events as select * from (values "
            "('product_added', 'properties.product_id: missing'), ('product_added', null), "
            "('coupon_sprayed', 'unplanned_event'), ('coupon_sprayed', 'unplanned_event'), (null, null)) "
            "as t(event_name, violations)"
        )
    out = tmp_path / "docs" / "plan.md"
    result = runner.invoke(app, ["plan", "docs", "--warehouse", str(warehouse), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| [product_added](#product_added) | commerce-team | 1-0-1 | 2 | 1 |" in text
    assert "| [page_viewed](#page_viewed) | web-team | 1-0-0 | 1 | 0 |" in text
    assert "| [order_completed](#order_completed) | commerce-team | 1-0-1 | 0 | 0 |" in text
    assert "| properties.search_term | string | yes |  |  | redacted | Free text typed by the user. |" in text
    assert "| traits.email | string |  |  | yes | hash |" in text
    assert text.endswith("| coupon_sprayed | 1 | 2 |\n")

    page = tmp_path / "plan.html"
    assert runner.invoke(app, ["plan", "docs", "--warehouse", str(warehouse), "--out", str(page)]).exit_code == 0
    assert "<td>product_added</td><td>commerce-team</td><td>1-0-1</td><td>2</td><td>1</td>" in page.read_text()
