"""event-analytics: raw product-analytics events to trustworthy warehouse tables."""

__version__ = "0.1.0"
