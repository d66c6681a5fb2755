"""Shared paths and the services' metric registries for the monitoring tests (no stack needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"


@pytest.fixture(scope="session")
def registries() -> dict[str, CollectorRegistry]:
    """Each long-running service's registry, built the way the service builds it."""
    from bot_runtime.metrics import SlotMetrics
    from reconciler.metrics import ReconcilerMetrics
    from sales_bot.metrics import SalesMetrics
    from scaler.metrics import ScalerMetrics

    return {
        "scaler": ScalerMetrics("test").registry,
        "slot": SlotMetrics(0).registry,
        "reconciler": ReconcilerMetrics("test").registry,
        "sales_bot": SalesMetrics().registry,
    }
