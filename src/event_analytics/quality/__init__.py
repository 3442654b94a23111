"""Data-quality validation: GX suites run as SQL against the warehouse."""
