"""One build of the sample data on DuckDB and on Spark for the whole folder (make test-spark): the
parity tests compare it, the validation tests run the GX suites on its Spark side. A Spark build
takes minutes on two cores; building once serves both modules.

The parity module's incremental test adds files to `landing` and builds both engines again, so a
module after it sees that second build (the same sample with more data, no less valid).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from event_analytics import parity
from event_analytics.generate import GenerateOptions, generate


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spark-parity") / "landing"
    # as `event-analytics generate --out L --events 3000 --faults 0.02` writes it
    generate(GenerateOptions(out=folder, events=3000, faults=0.02))
    return folder


@pytest.fixture(scope="session")
def workdir(landing: Path) -> parity.Workdir:
    return parity.Workdir(landing.parent / "parity")


@pytest.fixture(scope="session")
def full_build(landing: Path, workdir: parity.Workdir) -> parity.ParityResult:
    return parity.build_and_compare(landing, workdir)
