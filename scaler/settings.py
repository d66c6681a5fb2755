"""The scaler's settings, read from the environment and checked as a whole before anything starts.

The four knobs of the earlier pool monitor keep their names and defaults
(``MIN_FREE_BOTS=3``, ``SCALE_BATCH=5``, ``MAX_TOTAL_BOTS=100``,
``CHECK_INTERVAL=30``) so an operator's existing environment still means the
same thing. Two knobs are new because that monitor never shrank the pool:
``MAX_FREE_BOTS`` (how many idle slots are worth paying for) and
``SCALE_IN_COOLDOWN`` (how long after any scale event before shrinking).

A combination that would make the scaler flap or contradict itself (a band
narrower than one batch, a minimum above the cap) is refused at start with a
message naming the variables, instead of being discovered at three in the
morning as a pool that grows and shrinks every few seconds.
"""

from __future__ import annotations

import os
import socket
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from botpool import jobspec
from botpool import settings as cfg


def _default_instance() -> str:
    """Name this scaler instance after its Nomad allocation when it has one, else after the host and pid."""
    alloc = os.environ.get("NOMAD_ALLOC_ID")
    if alloc:
        return f"alloc-{alloc[:8]}"
    return f"{socket.gethostname()}-{os.getpid()}"


class ScalerSettings(BaseSettings):
    """Everything the scaler needs besides the Consul and Nomad addresses (those have their own settings)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    #: Scale up as soon as fewer than this many slots are free (waiting, unclaimed, healthy) or on their way.
    min_free: int = Field(3, alias="MIN_FREE_BOTS", ge=1, le=1000)
    #: How many slots one scale-up adds (more if the shortage is deeper than one batch).
    batch: int = Field(5, alias="SCALE_BATCH", ge=1, le=1000)
    #: The pool never grows beyond this many slots (the job's own ``scaling { max }`` also applies).
    max_total: int = Field(100, alias="MAX_TOTAL_BOTS", ge=1, le=10000)
    #: Seconds between safety-net checks; changes are normally seen at once through blocking queries.
    check_interval_s: float = Field(30.0, alias="CHECK_INTERVAL", gt=0, le=3600)
    #: Shrink when more than this many slots are free; the excess above it is removed from the top.
    max_free: int = Field(10, alias="MAX_FREE_BOTS", ge=1, le=10000)
    #: Seconds after the group's last scale event (of any direction) before the pool may shrink.
    scale_in_cooldown_s: float = Field(120.0, alias="SCALE_IN_COOLDOWN", ge=0, le=86400)
    #: Utilisation (busy / total) above which an alert is raised for the operator.
    alert_utilisation: float = Field(0.8, alias="ALERT_UTILISATION", gt=0, le=1)

    #: The Nomad job and group that form the pool.
    job: str = Field(jobspec.POOL.id, alias="BOTPOOL_POOL_JOB", min_length=1)
    group: str = Field(jobspec.POOL.group, alias="BOTPOOL_POOL_GROUP", min_length=1)

    #: Where /metrics and /health are served (Nomad gives the port to the scaler job as NOMAD_PORT_http).
    metrics_host: str = Field("127.0.0.1", alias="BOTPOOL_SCALER_METRICS_HOST")
    metrics_port: int = Field(9464, alias="NOMAD_PORT_http", ge=0, le=65535)

    #: Leader election: the Consul session TTL (Consul's minimum is 10 s) and the liveness check TTL
    #: that actually bounds a takeover after the leader dies without releasing its lock.
    session_ttl_s: int = Field(10, alias="BOTPOOL_SCALER_SESSION_TTL", ge=10, le=300)
    liveness_ttl_s: float = Field(5.0, alias="BOTPOOL_SCALER_LIVENESS_TTL", ge=2, le=60)
    #: Consul's lock delay after the leader's session is invalidated; small so the standby takes over fast.
    lock_delay_s: int = Field(1, alias="BOTPOOL_SCALER_LOCK_DELAY", ge=0, le=60)
    #: This instance's name in logs, metrics, the lock value and Nomad's scale event Meta.
    instance: str = Field(default_factory=_default_instance, alias="BOTPOOL_SCALER_INSTANCE", min_length=1)

    log_level: str = Field("INFO", alias="BOTPOOL_LOG_LEVEL")

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        """Refuse combinations that contradict themselves or would make the pool flap."""
        problems = []
        if self.min_free > self.max_total:
            problems.append(
                f"MIN_FREE_BOTS ({self.min_free}) is above MAX_TOTAL_BOTS ({self.max_total}): "
                "the pool could never hold that many free slots"
            )
        if self.batch > self.max_total:
            problems.append(f"SCALE_BATCH ({self.batch}) is above MAX_TOTAL_BOTS ({self.max_total})")
        if self.max_free < self.min_free + self.batch:
            problems.append(
                f"MAX_FREE_BOTS ({self.max_free}) must be at least MIN_FREE_BOTS + SCALE_BATCH "
                f"({self.min_free} + {self.batch} = {self.min_free + self.batch}); otherwise one scale-up "
                "would leave more free slots than allowed and the pool would shrink right back (flapping)"
            )
        if self.liveness_ttl_s >= self.session_ttl_s:
            problems.append(
                f"BOTPOOL_SCALER_LIVENESS_TTL ({self.liveness_ttl_s}) must be below "
                f"BOTPOOL_SCALER_SESSION_TTL ({self.session_ttl_s})"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load() -> ScalerSettings:
    """Read and check the settings or raise ``ConfigurationError`` naming each bad variable.

    Goes through botpool's one settings loader, so a field error is reported
    under its environment variable's name and a combination error by its own
    sentence, exactly as every other service reports its settings.
    """
    return cfg.load(ScalerSettings)
