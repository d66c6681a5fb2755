"""What every handler of the operator bot works with, built once by ``app`` and handed in by a middleware."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from consul.aio import Consul

from botpool.clients.nomad import NomadClient
from botpool.pool.reading import PoolSource
from botpool.pool.scaling import PoolTarget
from operator_bot.confirmations import Confirmations
from operator_bot.settings import OperatorBotSettings


@dataclass(frozen=True)
class Ops:
    """The operator bot's services: Consul, Nomad, the control database, the pool reader and target."""

    settings: OperatorBotSettings
    consul: Consul
    nomad: NomadClient
    db: asyncpg.Pool
    source: PoolSource
    target: PoolTarget
    confirmations: Confirmations
