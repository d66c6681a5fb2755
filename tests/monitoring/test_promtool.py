"""The Prometheus and Alertmanager configurations are valid and the alert rules behave as their unit tests say.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager`` packages
(``make deps``). Debian builds Prometheus without Consul service discovery (disabled since 2.33.5+ds1-4),
so its promtool cannot parse ``consul_sd_configs``; with such a promtool the configuration is checked with
that one block replaced, and the discovery block itself is checked here in Python.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.conftest import MONITORING


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make deps` (Debian package prometheus / prometheus-alertmanager)")
    return path


def _run(*argv: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def _botpool_job(config: dict[str, Any]) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = [job for job in config["scrape_configs"] if job["job_name"] == "botpool"]
    assert len(jobs) == 1
    return jobs[0]


def test_rules_are_valid() -> None:
    result = _run(_tool("promtool"), "check", "rules", "rules/botpool.rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = _run(_tool("promtool"), "test", "rules", "botpool.rules.test.yml", cwd=MONITORING / "rules")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_unit_tested_and_described() -> None:
    rules = yaml.safe_load((MONITORING / "rules" / "botpool.rules.yml").read_text())
    tests = yaml.safe_load((MONITORING / "rules" / "botpool.rules.test.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    tested = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])}
    fired = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
             if case["exp_alerts"]}
    silent = {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
              if not case["exp_alerts"]}
    names = {alert["alert"] for alert in alerts}
    assert names == tested == fired
    assert names - {"BotpoolTargetDown"} <= silent  # each also shown silent where it should be
    for alert in alerts:
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    text = (MONITORING / "prometheus.yml").read_text()
    result = _run(promtool, "check", "config", str(MONITORING / "prometheus.yml"))
    if "field consul_sd_configs not found" in result.stdout + result.stderr:
        # Debian's promtool: check everything else (relabelling, rule files, alerting) with the block swapped.
        config = yaml.safe_load(text)
        job = _botpool_job(config)
        del job["consul_sd_configs"]
        job["file_sd_configs"] = [{"files": ["targets.json"]}]
        (tmp_path / "rules").symlink_to(MONITORING / "rules")
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        result = _run(promtool, "check", "config", str(tmp_path / "prometheus.yml"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_discovers_only_tagged_services_through_consul() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    job = _botpool_job(config)
    assert [sd["server"] for sd in job["consul_sd_configs"]]
    assert config["rule_files"] == ["rules/botpool.rules.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    keep = [r for r in job["relabel_configs"] if r.get("action") == "keep"]
    assert len(keep) == 1 and keep[0]["source_labels"] == ["__meta_consul_tags"]
    # Prometheus anchors the regex and joins a service's tags as ",a,b,".
    pattern = re.compile(keep[0]["regex"])
    assert pattern.fullmatch(",botpool,slot,metrics,")
    assert pattern.fullmatch(",metrics,")
    assert not pattern.fullmatch(",botpool,slot,")
    assert not pattern.fullmatch(",botpool,metrics-exporter,")


def test_alertmanager_sends_everything_to_the_operator_bot() -> None:
    config = yaml.safe_load((MONITORING / "alertmanager.yml").read_text())
    assert config["route"]["receiver"] == "operator-bot"
    assert config["route"]["group_by"] == ["alertname"]
    assert "routes" not in config["route"]
    (receiver,) = config["receivers"]
    assert receiver["name"] == "operator-bot"
    (hook,) = receiver["webhook_configs"]
    assert hook["send_resolved"] is True and hook["url"].startswith("http")
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed (Debian package prometheus-alertmanager)")
    result = _run(amtool, "check-config", "alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr
