"""Submit any of botpool's Nomad jobs from the HCL files shipped inside the package.

Tests, benchmarks, ``botpool up`` and an operator all register the very same
job files, so what is tested is what runs. The files live in the top-level
``jobs/`` folder (which the docs and ``nomad job run`` point at) and reach the
package as ``botpool/jobs`` (a link in the checkout, real files in the wheel),
read through ``importlib.resources``: an installed botpool can submit its own
jobs without a checkout next to it.

For the ``raw_exec`` driver (the local stack and tests) the job runs this
interpreter with the folder botpool is imported from on ``PYTHONPATH``, so the
slots and scalers run exactly the code that submitted them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import botpool
from botpool.clients.nomad import NomadClient


@dataclass(frozen=True)
class Job:
    """One of botpool's Nomad jobs: its id, its one task group and the HCL file it is defined by."""

    id: str
    group: str
    file: str

    def hcl(self) -> str:
        """The job's HCL as shipped in the package."""
        return resources.files(botpool).joinpath("jobs", self.file).read_text(encoding="utf-8")


#: The warm pool of bot slots (``jobs/bot-pool.nomad.hcl``).
POOL = Job("bot-pool", "pool", "bot-pool.nomad.hcl")
#: The pool scaler, two instances of which one leads (``jobs/pool-scaler.nomad.hcl``).
SCALER = Job("pool-scaler", "scaler", "pool-scaler.nomad.hcl")
#: The sales bot (``jobs/sales-bot.nomad.hcl``).
SALES = Job("sales-bot", "sales", "sales-bot.nomad.hcl")
#: The operator bot (``jobs/operator-bot.nomad.hcl``).
OPERATOR = Job("operator-bot", "operator", "operator-bot.nomad.hcl")
#: Prometheus and Alertmanager (``jobs/monitoring.nomad.hcl``).
MONITORING = Job("monitoring", "monitoring", "monitoring.nomad.hcl")
#: Every job botpool ships, for tooling that walks them all (tests, the local stack's teardown).
ALL = (POOL, SCALER, SALES, OPERATOR, MONITORING)

#: The folder the ``botpool`` package is imported from: ``PYTHONPATH`` of a ``raw_exec`` task.
IMPORT_ROOT = Path(botpool.__file__).resolve().parent.parent


async def submit(
    nomad: NomadClient,
    job: Job,
    *,
    env: dict[str, str],
    driver: str = "raw_exec",
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse the job's HCL with its variables and register it; returns Nomad's answer with the evaluation id.

    ``variables`` are the job's own HCL2 variables (``count``, ``settings``, ...);
    ``python`` and ``workdir`` are filled in for ``raw_exec`` unless given.
    """
    values: dict[str, Any] = {"driver": driver, "env": env}
    if driver == "raw_exec":
        values.update(python=sys.executable, workdir=str(IMPORT_ROOT))
    values.update(variables or {})
    parsed = await nomad.parse_hcl(job.hcl(), values)
    return await nomad.register(parsed)


async def submit_pool(
    nomad: NomadClient,
    *,
    count: int,
    env: dict[str, str],
    driver: str = "raw_exec",
    max_count: int = 100,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Register the pool job with ``count`` slots (at most ``max_count`` through scaling)."""
    variables: dict[str, Any] = {"count": count, "max_count": max_count, **(extra or {})}
    return await submit(nomad, POOL, env=env, driver=driver, variables=variables)


async def submit_scaler(
    nomad: NomadClient,
    *,
    env: dict[str, str],
    settings: dict[str, str] | None = None,
    count: int = 2,
    driver: str = "raw_exec",
) -> dict[str, Any]:
    """Register the scaler job with ``count`` instances.

    ``settings`` replaces the job's default knobs as a whole (MIN_FREE_BOTS, SCALE_BATCH, ...), so pass
    every knob that should differ from the scaler's own defaults.
    """
    variables: dict[str, Any] = {"count": count}
    if settings is not None:
        variables["settings"] = settings
    return await submit(nomad, SCALER, env=env, driver=driver, variables=variables)


async def submit_sales(
    nomad: NomadClient,
    *,
    env: dict[str, str],
    env_file: str = "",
    notify_port: int = 8090,
    driver: str = "raw_exec",
) -> dict[str, Any]:
    """Register the sales bot job; ``env`` holds only non-secret settings, ``env_file`` the path of the secret ones."""
    variables: dict[str, Any] = {"env_file": env_file, "notify_port": notify_port}
    return await submit(nomad, SALES, env=env, driver=driver, variables=variables)


async def submit_operator(
    nomad: NomadClient,
    *,
    env: dict[str, str],
    env_file: str = "",
    secrets_version: str = "",
    webhook_port: int = 8091,
    driver: str = "raw_exec",
) -> dict[str, Any]:
    """Register the operator bot job; ``env`` holds only non-secret settings, ``env_file`` the path of the secret
    ones (its bot token, admins, read-only DSN and Nomad token), as for the sales bot.

    ``secrets_version`` (a digest of that file, not its content) restarts the bot when the file changed;
    registering the job unchanged changes nothing, so ``botpool up`` submits it every time.
    """
    variables: dict[str, Any] = {
        "env_file": env_file, "secrets_version": secrets_version, "webhook_port": webhook_port,
    }
    return await submit(nomad, OPERATOR, env=env, driver=driver, variables=variables)


@dataclass(frozen=True)
class MonitoringConfig:
    """The texts of the monitoring/ folder the job runs with, so the files promtool checks are the ones that run."""

    prometheus: str
    rules: str
    alertmanager: str

    @classmethod
    def read(cls, folder: Path) -> MonitoringConfig:
        """Read ``prometheus.yml``, ``rules/botpool.rules.yml`` and ``alertmanager.yml`` from ``folder``."""
        return cls(
            prometheus=(folder / "prometheus.yml").read_text(encoding="utf-8"),
            rules=(folder / "rules" / "botpool.rules.yml").read_text(encoding="utf-8"),
            alertmanager=(folder / "alertmanager.yml").read_text(encoding="utf-8"),
        )


async def submit_monitoring(
    nomad: NomadClient,
    *,
    config: MonitoringConfig,
    prometheus_port: int,
    alertmanager_port: int,
    operator_webhook_url: str | None = None,
    data_dir: str = "",
    driver: str = "raw_exec",
) -> dict[str, Any]:
    """Register Prometheus and Alertmanager; with ``raw_exec`` they are Debian's binaries on this machine.

    Registering an unchanged job changes nothing, so ``botpool up`` submits it every time and an edited
    monitoring/ file reaches the running programs (a new template: SIGHUP, their reload).
    ``operator_webhook_url`` is where Alertmanager sends every alert (``None``: the job's default).
    """
    values: dict[str, Any] = {
        "driver": driver,
        "prometheus_config": config.prometheus,
        "alert_rules": config.rules,
        "alertmanager_config": config.alertmanager,
        "prometheus_port": prometheus_port,
        "alertmanager_port": alertmanager_port,
        "data_dir": data_dir,
    }
    if operator_webhook_url is not None:
        values["operator_webhook_url"] = operator_webhook_url
    parsed = await nomad.parse_hcl(MONITORING.hcl(), values)
    return await nomad.register(parsed)
