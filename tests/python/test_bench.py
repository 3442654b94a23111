"""Which generated files the benchmark's incremental run adds."""

from __future__ import annotations

from pathlib import Path

from event_analytics.bench import split_last_day


def test_incremental_run_gets_the_last_simulated_day_and_the_stragglers_after_it() -> None:
    names = ["2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05"]
    files = [Path("cache") / part / f"{name}.jsonl.gz" for part in ("part-0", "part-1") for name in names]
    # three simulated days: 10-03 is the last; 10-04 and 10-05 hold late deliveries of it
    full, new = split_last_day(files, days=3)
    assert [str(path) for path in full] == [
        "cache/part-0/2026-10-01.jsonl.gz",
        "cache/part-0/2026-10-02.jsonl.gz",
        "cache/part-1/2026-10-01.jsonl.gz",
        "cache/part-1/2026-10-02.jsonl.gz",
    ]
    assert sorted(path.name for path in new) == sorted(
        ["2026-10-03.jsonl.gz", "2026-10-04.jsonl.gz", "2026-10-05.jsonl.gz"] * 2
    )
