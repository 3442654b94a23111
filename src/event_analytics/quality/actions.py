"""The Checkpoint's actions: GX's own, extended where they fall short.

FailedExpectationsAlert. GX's SlackNotificationAction posts to any Slack-compatible webhook, but even with
show_failed_expectations=True its message does not list them (gx_compat, fact 5). This subclass
keeps GX's rendering and HTTP posting, renders only the suites that failed, and adds a section
listing their failed expectations: relation, column, expectation, what was observed, and a few
offending values with PII masked.

UpdateDataDocsOnce. GX's UpdateDataDocsAction rebuilds the site, index included, once per
validation result: with ~17 suites that was 10 of 16 seconds of a validation. This one builds the
pages of all results, and the index, in one go.
"""

from __future__ import annotations

from typing import Any, Literal

from great_expectations.checkpoint import SlackNotificationAction, UpdateDataDocsAction
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

from event_analytics.quality.checks import failures_of

MAX_LISTED = 10


class FailedExpectationsAlert(SlackNotificationAction):
    type: Literal["event_analytics_failed_expectations"] = "event_analytics_failed_expectations"
    # The plan's PII patterns: offending values are masked with them before they leave.
    masking_patterns: dict[str, str] = {}

    def _render_validation_result(
        self, result_identifier: Any, result: Any, action_context: Any = None
    ) -> list[dict[str, Any]]:
        if result.success:
            # Only the suites that failed: a Slack message holds at most 50 blocks.
            return []
        blocks = super()._render_validation_result(result_identifier, result, action_context)
        failures = failures_of(result, self.masking_patterns)
        if failures:
            # Slack caps a section at 3,000 characters.
            shown = failures[:MAX_LISTED]
            lines = [f"*Failed expectations in {result.suite_name}:*"] + [f"• {failure}"[:250] for failure in shown]
            if len(failures) > len(shown):
                lines.append(f"… and {len(failures) - len(shown)} more (see Data Docs)")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
        return blocks


class UpdateDataDocsOnce(UpdateDataDocsAction):
    type: Literal["event_analytics_update_data_docs_once"] = "event_analytics_update_data_docs_once"

    def run(self, checkpoint_result: Any, action_context: Any = None) -> dict[str, Any]:
        identifiers: list[Any] = []
        for result_identifier, result in checkpoint_result.run_results.items():
            identifiers += [result_identifier, ExpectationSuiteIdentifier(name=result.suite_name)]
        self._build_data_docs(site_names=self.site_names, resource_identifiers=identifiers)
        # What GX's own action returns, so later actions can link each result's page.
        return {
            result_identifier: {
                site["site_name"]: site["site_url"]
                for site in self._get_docs_sites_urls(resource_identifier=result_identifier, site_names=self.site_names)
            }
            for result_identifier in checkpoint_result.run_results
        }
