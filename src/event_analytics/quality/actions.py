"""The Checkpoint's action: GX's own, extended where it falls short (alerts: alerts.py says why
they are not a GX action).

UpdateDataDocsOnce. GX's UpdateDataDocsAction rebuilds the site, index included, once per
validation result: with ~17 suites that was 10 of 16 seconds of a validation. This one builds the
pages of all results, and the index, in one go, from results whose offending values are masked as
the terminal and the alert mask them (GX renders the stored results: they are masked and stored
again first), so the pages, which anyone with the folder can open, show no personal data.
"""

from __future__ import annotations

import copy
import html
from typing import Any, Literal

from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

from event_analytics.quality.masking import mask

# Keys of an expectation's `result` that hold values read from the data.
VALUE_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "observed_value",
    "details",
)


class UpdateDataDocsOnce(UpdateDataDocsAction):
    type: Literal["event_analytics_update_data_docs_once"] = "event_analytics_update_data_docs_once"
    masking_patterns: dict[str, str] = {}

    def run(self, checkpoint_result: Any, action_context: Any = None) -> dict[str, Any]:
        store = self._resolve_context().context.validation_results_store
        identifiers: list[Any] = []
        for result_identifier, result in checkpoint_result.run_results.items():
            # A copy for the pages: the run's own results stay as read (the CLI masks them itself).
            shown = copy.deepcopy(result)
            for expectation_result in shown.results:
                mask_values(expectation_result.result, self.masking_patterns)
            store.set(result_identifier, shown)
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


def mask_values(result: dict[str, Any], patterns: dict[str, str]) -> None:
    """An expectation result's values from the data, masked in place, in lists and mappings too,
    and HTML-escaped: GX's renderer writes sampled values into the pages as markup, so an event
    named `<script>…` would run in the reader's browser."""

    def masked(value: Any) -> Any:
        if isinstance(value, str):
            return html.escape(mask(value, patterns))
        if isinstance(value, list):
            return [masked(item) for item in value]
        if isinstance(value, dict):
            return {key: masked(item) for key, item in value.items()}
        return value

    for key in VALUE_KEYS:
        if key in result:
            result[key] = masked(result[key])
