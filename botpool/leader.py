"""Leader election through a Consul lock, so any number of instances of a singleton role may run and one acts.

The scaler and the reconciler both use it. The lock is the key
``botpool/leaders/<role>`` acquired with a Consul session. The catch is
Consul's own timing: a session's TTL is at least 10 s and Consul reaps an
expired session only after up to twice its TTL, so a leader killed with
SIGKILL would hold the lock for up to ~20 s on TTL alone. A standby must take
over within 15 s, so the session is additionally bound to a **TTL health
check** this instance registers with its Consul agent and passes every
``liveness_ttl / 3`` seconds. Consul invalidates a session the moment one of
its checks turns critical, with no reaping delay, so a dead leader loses the
lock ``liveness_ttl`` (5 s by default) after its last beat. The session's
``Behavior`` is ``delete`` (the lock key vanishes with it), and its
``LockDelay`` is 1 s, so the standby, blocked on the key, acquires about
``liveness_ttl + lock_delay`` seconds after the leader's death. A leader that
stops gracefully releases at once.

Leadership is a hint until confirmed: ``confirm()`` re-reads the key right
before an action (a scale call), so an instance that was paused long enough to lose its
session (without having noticed yet) does not act on stale leadership.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid

import structlog
from consul.aio import Consul

from botpool.clients.consul import create_session
from botpool.errors import DependencyUnavailable
from botpool.pool import keys
from botpool.pool.model import MalformedRecord, Record, UtcDatetime, utcnow

log = structlog.get_logger("botpool.leader")


class LeaderRecord(Record):
    """The value of a lock key: who leads and since when (for operators and ``holder``; the lock is the session)."""

    instance: str
    since: UtcDatetime | None = None


def election_service(role: str) -> str:
    """Consul service under which every candidate for ``role`` registers its liveness check."""
    return f"botpool-{role}-election"


class LeaderElection:
    """One instance's candidacy: keeps a live session, holds the lock when it can, reports changes."""

    def __init__(
        self,
        consul: Consul,
        *,
        instance: str,
        role: str,
        session_ttl_s: int = 10,
        liveness_ttl_s: float = 5.0,
        lock_delay_s: int = 1,
        metrics_port: int | None = None,
        metrics_address: str | None = None,
    ) -> None:
        """Prepare a candidacy; ``metrics_port`` (and ``metrics_address``, else the agent's node address) puts
        the instance's ``/metrics`` on its election service with the tag ``metrics``, for a process that no
        scheduler registers (the reconciler), so Prometheus discovers it through Consul.
        """
        self.metrics_port = metrics_port
        self.metrics_address = metrics_address
        self.consul = consul
        self.instance = instance
        self.role = role
        self.key = keys.leader(role)
        self.session_ttl_s = session_ttl_s
        self.liveness_ttl_s = liveness_ttl_s
        self.lock_delay_s = lock_delay_s
        safe = re.sub(r"[^A-Za-z0-9_.-]", "-", instance)
        # Unique per process: a restarted instance (same name, e.g. Nomad restarting the task) must not
        # revive its dead predecessor's check, or the dead session would live on until its TTL.
        self.service_id = f"{election_service(role)}-{safe}-{uuid.uuid4().hex[:8]}"
        self.check_id = f"{self.service_id}-alive"
        self.session: str | None = None
        self._leading = asyncio.Event()
        self._following = asyncio.Event()
        self._following.set()
        self._session_lost = asyncio.Event()

    # ------------------------------------------------------------------ state
    @property
    def is_leader(self) -> bool:
        """True while this instance believes it holds the lock (``confirm`` checks it against Consul)."""
        return self._leading.is_set()

    async def wait_leading(self) -> None:
        """Return once this instance holds the lock."""
        await self._leading.wait()

    async def wait_following(self) -> None:
        """Return once this instance does not hold the lock (at once if it does not)."""
        await self._following.wait()

    async def confirm(self) -> bool:
        """Ask Consul whether our session holds the lock right now (one KV read); demote ourselves if not."""
        if not self.is_leader or self.session is None:
            return False
        _, entry = await self.consul.kv.get(self.key)
        if entry is not None and entry.get("Session") == self.session:
            return True
        self._set_leading(False, "lock no longer held by our session")
        return False

    async def holder(self) -> str | None:
        """The instance name stored in the lock key by the current leader, or None if nobody leads."""
        _, entry = await self.consul.kv.get(self.key)
        if entry is None or not entry.get("Session") or not entry.get("Value"):
            return None
        try:
            return LeaderRecord.decode(entry["Value"]).instance
        except MalformedRecord:
            return None

    def _set_leading(self, leading: bool, why: str) -> None:
        if leading == self.is_leader:
            return
        if leading:
            self._following.clear()
            self._leading.set()
            log.info("became leader", role=self.role, instance=self.instance, key=self.key, reason=why)
        else:
            self._leading.clear()
            self._following.set()
            log.warning("lost leadership", role=self.role, instance=self.instance, key=self.key, reason=why)

    # -------------------------------------------------------------------- run
    async def run(self) -> None:
        """Campaign forever: register the liveness check, keep it passing, and take the lock whenever it is free."""
        await self._register()
        beat = asyncio.create_task(self._heartbeat(), name="leader-heartbeat")
        try:
            while True:
                try:
                    await self._campaign()
                except (TimeoutError, DependencyUnavailable, OSError) as exc:
                    self._set_leading(False, f"Consul error: {exc}")
                    log.warning("election error; retrying", instance=self.instance, error=str(exc))
                    await asyncio.sleep(1)
                except Exception as exc:  # py-consul raises its own exception types for HTTP errors
                    self._set_leading(False, f"Consul error: {type(exc).__name__}")
                    log.warning("election error; retrying", instance=self.instance, error=repr(exc))
                    await asyncio.sleep(1)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await beat

    async def resign(self) -> None:
        """Leave gracefully: release the lock, end the session, remove the liveness check (standby takes over now)."""
        self._set_leading(False, "resigning")
        with contextlib.suppress(Exception):
            if self.session is not None:
                await self.consul.kv.put(self.key, self._value(), release=self.session)
                await self.consul.session.destroy(self.session)
        self.session = None
        with contextlib.suppress(Exception):
            await self.consul.agent.service.deregister(self.service_id)

    async def _campaign(self) -> None:
        """One pass: make sure we have a session, then hold the lock or wait on the key until it is free."""
        if self.session is None or self._session_lost.is_set():
            self._set_leading(False, "session ended")
            await self._new_session()
        assert self.session is not None
        index: int | None = None
        while not self._session_lost.is_set():
            new_index, entry = await self.consul.kv.get(self.key, index=index, wait="5s")
            holder = entry.get("Session") if entry else None
            if holder == self.session:
                self._set_leading(True, "lock acquired")
            elif holder:
                self._set_leading(False, "lock held by another instance")
            else:
                self._set_leading(False, "lock free")
                if await self.consul.kv.put(self.key, self._value(), acquire=self.session):
                    self._set_leading(True, "lock acquired")
                    index = None
                    continue
                # Refused: Consul's lock delay after the previous holder's session ended. It has no
                # blocking query, so wait it out (bounded by the configured delay).
                await asyncio.sleep(self.lock_delay_s + 0.1)
                index = None
                continue
            index = int(new_index) if index is None or int(new_index) >= index else None

    async def _new_session(self) -> None:
        await self._pass_check()
        self.session = await create_session(
            self.consul, name=f"{self.role} {self.instance}", ttl_s=self.session_ttl_s, behavior="delete",
            service_checks=[self.check_id], lock_delay_s=self.lock_delay_s,
        )
        self._session_lost.clear()
        log.info("election session created", instance=self.instance, session=self.session)

    def _value(self) -> str:
        return LeaderRecord(instance=self.instance, since=utcnow()).model_dump_json()

    async def _register(self) -> None:
        """Register this instance's liveness check (a TTL check on a service of its own)."""
        body: dict[str, object] = {
            "ID": self.service_id,
            "Name": election_service(self.role),
            "Tags": ["botpool", self.role],
            "Meta": {"instance": self.instance},
            "Check": {
                "CheckID": self.check_id,
                "Name": f"{self.role} alive",
                "TTL": f"{self.liveness_ttl_s:g}s",
                "Status": "passing",
                "DeregisterCriticalServiceAfter": "1m",
            },
        }
        if self.metrics_port is not None:
            body["Port"] = self.metrics_port
            body["Tags"] = ["botpool", self.role, "metrics"]
            body["Meta"] = {"instance": self.instance, "metrics_path": "/metrics"}
            if self.metrics_address:
                body["Address"] = self.metrics_address
        response = await self.consul.http.put(
            lambda r: r, "/v1/agent/service/register", data=json.dumps(body),
            headers=self.consul.prepare_headers(None),
        )
        if response.code != 200:
            raise DependencyUnavailable(f"Consul refused the {self.role}'s liveness check: HTTP {response.code}")

    async def _pass_check(self) -> None:
        response = await self.consul.http.put(
            lambda r: r, f"/v1/agent/check/pass/{self.check_id}", headers=self.consul.prepare_headers(None)
        )
        if response.code == 404:
            # The agent forgot us (restarted, or reaped a check that was critical too long): register again.
            await self._register()
        elif response.code != 200:
            raise DependencyUnavailable(f"Consul refused the liveness beat: HTTP {response.code}")

    async def _renew_session(self) -> None:
        if self.session is None:
            return
        response = await self.consul.http.put(
            lambda r: r, f"/v1/session/renew/{self.session}", headers=self.consul.prepare_headers(None)
        )
        if response.code == 404:
            self._session_lost.set()
            self._set_leading(False, "session invalidated")

    async def _heartbeat(self) -> None:
        """Pass the liveness check every ``liveness_ttl / 3`` s and renew the session every ``session_ttl / 3`` s."""
        every = self.liveness_ttl_s / 3
        loop = asyncio.get_running_loop()
        last_renew = loop.time()
        while True:
            try:
                await self._pass_check()
                if loop.time() - last_renew >= self.session_ttl_s / 3:
                    await self._renew_session()
                    last_renew = loop.time()
            except Exception as exc:  # a missed beat is survivable; the next one may succeed
                log.warning("liveness beat failed", instance=self.instance, error=repr(exc))
            await asyncio.sleep(every)
