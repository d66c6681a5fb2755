"""The Prometheus and Alertmanager configurations are valid and the alert rules behave as their unit tests say.

promtool and amtool come from Debian's ``prometheus`` and ``prometheus-alertmanager`` packages
(``make deps``), the very programs the monitoring job runs. Debian builds Prometheus without Consul
service discovery, so prometheus.yml reads its targets from files that jobs/monitoring.nomad.hcl renders
from Consul's catalog (tests/monitoring/test_stack.py checks the rendered result on the real stack).
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring.conftest import MONITORING

JOBS = MONITORING.parent / "jobs"


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


def test_prometheus_config_is_valid() -> None:
    result = _run(_tool("promtool"), "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_prometheus_reads_what_the_monitoring_job_writes() -> None:
    """The files prometheus.yml names are the ones jobs/monitoring.nomad.hcl renders next to it.

    Paths in prometheus.yml are relative to it, and the job writes it to local/prometheus.yml: a renamed
    target file would leave Prometheus with nothing to scrape and no error anywhere.
    """
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    job = _botpool_job(config)
    assert "consul_sd_configs" not in job  # Debian's build has no Consul SD: the job renders the targets
    written = {
        path.removeprefix("local/")
        for path in re.findall(r'destination\s*=\s*"([^"]+)"', (JOBS / "monitoring.nomad.hcl").read_text())
    }
    named = [*config["rule_files"]]
    named += [f for sd in job["file_sd_configs"] for f in sd["files"]]
    named += [f for am in config["alerting"]["alertmanagers"] for sd in am["file_sd_configs"] for f in sd["files"]]
    assert len(named) == 3
    for name in named:
        assert any(fnmatch.fnmatch(path, name) for path in written), f"{name} is not written by the job: {written}"
    assert "prometheus.yml" in written


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
