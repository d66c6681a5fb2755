"""Every metric the dashboard and the alert rules query exists in some service's registry.

A renamed metric would leave a panel empty and an alert silent without any error anywhere, so the names
are taken from the registries the services really build (``tests/monitoring/conftest.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from tests.monitoring.conftest import MONITORING

#: Series Prometheus makes itself, not a service.
PROMETHEUS_OWN = {"up"}
_NAME = re.compile(r"\bbotpool_[a-zA-Z0-9_]+")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",),
             "summary": ("", "_sum", "_count")}


def exposed_names(registry: CollectorRegistry) -> set[str]:
    """The series names a scrape of ``registry`` can contain (a counter's ``_total``, a histogram's parts)."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def unknown(expr: str, known: set[str]) -> set[str]:
    """The botpool metric names ``expr`` uses that no registry exposes."""
    return set(_NAME.findall(expr)) - known


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                yield panel["title"], target["expr"]
            yield from walk(panel.get("panels", []))

    dashboard = json.loads((MONITORING / "grafana" / "botpool.json").read_text())
    yield from walk(dashboard["panels"])


def _rule_exprs() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((MONITORING / "rules" / "botpool.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule.get("record"), rule["expr"]


def _known(registries: dict[str, CollectorRegistry]) -> set[str]:
    return set().union(*(exposed_names(r) for r in registries.values()))


def test_the_check_notices_a_renamed_metric(registries: dict[str, CollectorRegistry]) -> None:
    known = _known(registries)
    assert unknown("histogram_quantile(0.99, rate(botpool_slot_activation_seconds_bucket[5m]))", known) == set()
    assert unknown("rate(botpool_slot_activation_secs_bucket[5m])", known) == {"botpool_slot_activation_secs_bucket"}
    assert unknown("botpool_sales_payment_anomalies", known) == {"botpool_sales_payment_anomalies"}  # no _total


def test_dashboard_queries_only_existing_metrics(registries: dict[str, CollectorRegistry]) -> None:
    known = _known(registries)
    exprs = list(_dashboard_exprs())
    assert len(exprs) >= 10
    for title, expr in exprs:
        assert _NAME.search(expr), f"panel {title!r} queries no botpool metric: {expr}"
        assert unknown(expr, known) == set(), f"panel {title!r}: {expr}"


def test_alert_rules_query_only_existing_metrics(registries: dict[str, CollectorRegistry]) -> None:
    known = _known(registries) | PROMETHEUS_OWN
    for name, expr in _rule_exprs():
        assert unknown(expr, known) == set(), f"rule {name}: {expr}"


def test_every_service_is_on_the_dashboard(registries: dict[str, CollectorRegistry]) -> None:
    used = {name for _, expr in _dashboard_exprs() for name in _NAME.findall(expr)}
    for service, registry in registries.items():
        assert used & exposed_names(registry), f"the dashboard shows nothing of the {service}"
