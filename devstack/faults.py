"""Inject one fault at a time into a running system under steady load, and measure what its users lost.

Shared by the fault-injection suite (tests/faults) and ``bench/faults.py``, so
the numbers in docs/operating.md come from the same scenarios the tests check.
A ``Rig`` runs on a local stack: the real pool job on Nomad, two reconcilers and
two scalers as OS processes (one of each leads), three watched tenants whose
bots are probed and whose clients book visits, and a churn of new activations
(``devstack.load``). The rig plays Nomad's restart policy for the control
processes: one that dies is started again, and each restart is counted.

``Rig.inject(fault)`` runs one fault, waits until the system is back to normal
by itself (every tenant answers, the pool's claims are consistent, each role
has a leader, the pool has free slots), then checks that nothing was lost and
no tenant was served twice, and returns a ``FaultReport``.

The node faults need a stack of two Nomad client nodes (``Stack.up(nodes=2)``):
``lose_node`` SIGKILLs the whole second node at once, as a machine losing power
(its Nomad client, every allocation's executor and task, its Consul agent);
``drain_node`` drains the node serving most watched tenants through Nomad's API.
Before either, at least one watched tenant is made to sit on the node. After
the checks the node comes back (started again, or marked eligible), so the next
fault finds two nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from consul.aio import Consul

from botpool import jobspec
from botpool.clients.nomad import NomadClient
from botpool.db.migrations import quote_ident
from botpool.leader import LeaderElection
from botpool.pool import keys, protocol
from botpool.tenancy.activation import Activator
from devstack import acl, booking_seed, evidence, process
from devstack.binaries import REPO_ROOT
from devstack.load import Booker, Churn, Probe, Tenant, greets, new_spec, new_tenant
from devstack.services import SECOND_NODE
from devstack.stack import Stack
from devstack.standins.telegram.client import TelegramControl, TgUser

#: Faults in the order the suite injects them (each leaves the system as it found it).
FAULTS = (
    "kill_slot", "kill_reconciler_leader", "kill_scaler_leader",
    "restart_consul", "restart_nomad", "restart_vault", "restart_postgres", "restart_redis",
    "freeze_slot", "lose_node", "drain_node",
)
#: Faults that need a second Nomad client node in the stack.
NODE_FAULTS = ("lose_node", "drain_node")
#: How long a drain may take before Nomad stops what is left on the node (its default migrate rules
#: move one slot at a time, each once its replacement has been healthy for 10 s).
DRAIN_DEADLINE_S = 30
#: How long the rig waits for the system to heal after a node fault.
NODE_SETTLE_S = 240
#: How long the zombie slot stays stopped (SIGSTOP ... SIGCONT).
FREEZE_S = 30.0
#: An acknowledged tenant not greeting a client within this long after the system settled counts as lost
#: (long enough for a re-home that waits for the scaler's next batch of slots).
LOST_AFTER_S = 60.0
#: Scaler knobs for a small pool on a 2-core machine.
SCALER_KNOBS = {"MIN_FREE_BOTS": 3, "SCALE_BATCH": 3, "MAX_FREE_BOTS": 6, "MAX_TOTAL_BOTS": 18,
                "SCALE_IN_COOLDOWN": 3600, "CHECK_INTERVAL": 5}


@dataclass
class FaultReport:
    """What one fault cost: the numbers the suite asserts and the benchmark prints."""

    fault: str
    #: Longest time any watched tenant's bot gave no greeting, from the fault to the end of the checks.
    longest_unanswered_s: float
    #: From the fault until every watched tenant had answered again.
    recovery_s: float
    #: From the fault until the whole system was back to normal (answers, claims, leaders, free slots).
    settled_s: float
    lost_activations: int
    lost_bookings: int
    double_served: int
    orphan_claims: int
    control_restarts: int
    #: What was still wrong when the wait for normal gave up (empty: it healed by itself).
    unresolved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class ControlProcess:
    """A reconciler or scaler run as its own OS process, so a fault can SIGKILL it like a crash."""

    role: str
    name: str
    env: dict[str, str]
    log: Path
    pid: int | None = None
    restarts: int = 0

    def start(self) -> None:
        """Start it (again)."""
        self.pid = process.spawn(
            [sys.executable, "-m", self.role], log=self.log, env=self.env, cwd=REPO_ROOT, die_with_parent=True
        )

    def alive(self) -> bool:
        """True while its process runs."""
        return self.pid is not None and process.alive(self.pid)

    def stop(self) -> None:
        """Stop it for good."""
        if self.pid is not None:
            process.stop(self.pid)
            self.pid = None


@dataclass
class Rig:
    """A running system under load, ready to take faults one at a time."""

    stack: Stack
    consul: Consul
    nomad: NomadClient
    activator: Activator
    control: TelegramControl
    slot_env: dict[str, str]
    control_env: dict[str, str]
    workdir: Path
    #: 3 watched + 3 held churn tenants + 1 activating + MIN_FREE_BOTS free: the scaler's band from the start.
    pool_size: int = 10
    churn_interval_s: float = 1.0
    watched: list[Tenant] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    bookers: list[Booker] = field(default_factory=list)
    churn: Churn | None = None
    processes: list[ControlProcess] = field(default_factory=list)
    reports: list[FaultReport] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _checker: TgUser = field(default_factory=lambda: TgUser(id=990_001, first_name="Checker"))
    _drained: str | None = None
    #: Watched tenants the drained node served when its drain began.
    _on_drained: list[str] = field(default_factory=list)
    _answers_from: float | None = None

    # ------------------------------------------------------------------ set-up
    async def start(self) -> None:
        """Submit the pool, start the control processes, activate the watched tenants and start the load."""
        await jobspec.submit_pool(self.nomad, count=self.pool_size, env=self.slot_env)
        await protocol.wait_until(self.consul, lambda s: len(s.free()) >= self.pool_size, timeout_s=300)
        logs = self.workdir / "logs"
        for name in ("a", "b"):
            self.processes.append(ControlProcess("reconciler", name, dict(self.control_env), logs / f"rec-{name}.log"))
            env = dict(self.stack.role_env("scaler"))  # the scaler's own Consul and Nomad tokens
            env.update({k: str(v) for k, v in SCALER_KNOBS.items()})
            env.update({"BOTPOOL_SCALER_INSTANCE": f"scaler-{name}", "NOMAD_PORT_http": "0"})
            self.processes.append(ControlProcess("scaler", f"scaler-{name}", env, logs / f"scaler-{name}.log"))
        for proc in self.processes:
            proc.start()
        for n in range(3):
            tenant = await new_tenant(self.control, f"steady{n}")
            await self.activator.activate(new_spec(tenant.tenant_id, tenant.bot, tenant.company))
            await self._seed(tenant.tenant_id)
            if not await greets(self.control, tenant, self._checker, wait_s=30):
                raise RuntimeError(f"watched tenant {tenant.tenant_id} does not answer after activation")
            self.watched.append(tenant)
            self.probes.append(Probe(self.control, tenant, TgUser(id=991_000 + 100 * n, first_name=f"Probe{n}")))
            self.bookers.append(Booker(self.control, tenant, first_user_id=10_000_000 * (n + 1)))
        self.churn = Churn(self.control, self.activator, interval_s=self.churn_interval_s)
        runners: list[Callable[[], Coroutine[Any, Any, None]]] = [p.run for p in self.probes]
        runners += [b.run for b in self.bookers] + [self.churn.run, self._supervise]
        self._tasks = [asyncio.create_task(run()) for run in runners]
        await self.settle(time.monotonic(), timeout_s=120)

    async def _seed(self, tenant_id: str) -> None:
        """Give the salon services, masters and hours for every day, so its clients can book."""
        dsn = self.stack.env()["BOTPOOL_DATABASE_URL"]
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=2, server_settings={"search_path": f"{quote_ident(tenant_id)}, public"}
        )
        try:
            await booking_seed.seed_salon(pool, weekend=True)
        finally:
            await pool.close()

    async def _supervise(self) -> None:
        """Play Nomad's restart policy for the control processes: a dead one is started again."""
        while True:
            for proc in self.processes:
                if not proc.alive():
                    proc.restarts += 1
                    proc.start()
            await asyncio.sleep(1.0)  # the restart policy's delay

    async def stop(self) -> None:
        """Stop the load and the control processes, release every tenant, purge the pool job."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for proc in self.processes:
            proc.stop()
        if self.churn is not None:
            await self.churn.release_all()
        for tenant in self.watched:
            with contextlib.suppress(Exception):
                await self.activator.release(tenant.tenant_id)
        with contextlib.suppress(Exception):
            await self.nomad.stop(jobspec.POOL.id, purge=True)
        with contextlib.suppress(TimeoutError):
            await protocol.wait_until(self.consul, lambda s: not s.slots, timeout_s=30)
        await self.consul.kv.delete(keys.POOL, recurse=True)
        await self.consul.kv.delete(keys.ALERTS, recurse=True)

    # ------------------------------------------------------------------ faults
    async def _slot_of(self, tenant: Tenant) -> str:
        snap = await protocol.snapshot(self.consul)
        for slot in snap.active():
            if slot.tenant_id == tenant.tenant_id:
                return slot.alloc_id
        raise RuntimeError(f"{tenant.tenant_id} is not served by any slot")

    async def _leader_process(self, role: str) -> ControlProcess:
        holder = await LeaderElection(self.consul, instance="fault-probe", role=role).holder()
        for proc in self.processes:
            if proc.role == role and holder is not None and (
                holder == proc.name or holder.endswith(f":{proc.pid}")
            ):
                return proc
        raise RuntimeError(f"no {role} of this rig leads (holder {holder!r})")

    def _nomad_admin(self) -> httpx.AsyncClient:
        """Nomad's API as the stack tooling (draining a node needs node write, which no role has)."""
        return httpx.AsyncClient(
            base_url=self.stack.env()["NOMAD_ADDR"], headers=acl.nomad_headers(self.stack.state), timeout=30
        )

    async def _nomad_get(self, path: str) -> Any:
        async with self._nomad_admin() as api:
            resp = await api.get(path)
            resp.raise_for_status()
            return resp.json()

    async def _nomad_put(self, path: str, body: dict[str, Any]) -> None:
        async with self._nomad_admin() as api:
            (await api.put(path, json=body)).raise_for_status()

    async def _node_ids(self) -> dict[str, str]:
        """Nomad client nodes of the stack, name to id (the first node is named after the host)."""
        return {n["Name"]: n["ID"] for n in await self._nomad_get("/v1/nodes")}

    async def _watched_nodes(self) -> dict[str, str]:
        """The Nomad node id each watched tenant's slot runs on."""
        out = {}
        for tenant in self.watched:
            alloc = await self.nomad.allocation(await self._slot_of(tenant))
            if alloc is not None:
                out[tenant.tenant_id] = str(alloc["NodeID"])
        return out

    async def _put_a_watched_tenant_on(self, node_id: str) -> list[str]:
        """Make at least one watched tenant sit on ``node_id``: its slot is killed until one is re-homed there.

        A re-homed tenant takes the lowest free slot, on whichever node that runs; a few tries suffice
        with the slots spread over two nodes. Returns the watched tenants on the node.
        """
        for _ in range(4):
            placed = await self._watched_nodes()
            on_node = [t for t, n in placed.items() if n == node_id]
            if on_node:
                return on_node
            moved = next(t for t in self.watched if placed.get(t.tenant_id) != node_id)
            for pid in process.slot_pids(await self._slot_of(moved)):
                os.kill(pid, signal.SIGKILL)
            _, problems = await self.settle(time.monotonic(), timeout_s=120)
            if problems:
                raise RuntimeError(f"moving {moved.tenant_id} to another slot did not settle: {problems}")
        raise RuntimeError(f"no watched tenant could be put on node {node_id}: the test would not test a node fault")

    async def _wait_drained(self, node_id: str, timeout_s: float) -> None:
        """Wait until Nomad reports the drain of ``node_id`` complete (no drain strategy left on the node)."""
        deadline = time.monotonic() + timeout_s
        while (await self._nomad_get(f"/v1/node/{node_id}")).get("DrainStrategy") is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the drain of node {node_id} did not finish in {timeout_s:.0f} s")
            await asyncio.sleep(0.5)  # Nomad's drainer works on its own schedule; poll its record

    async def _wait_stopped_on(self, node_id: str, timeout_s: float) -> None:
        """Wait until no pool allocation on ``node_id`` still runs, so a greeting after it comes from a new home.

        Nomad reports a drain done once it has told the node's allocations to stop; a slot may still
        answer for a moment while it stops, which would count as the tenant served again.
        """
        deadline = time.monotonic() + timeout_s
        while any(
            a.get("JobID") == jobspec.POOL.id and a.get("ClientStatus") == "running"
            for a in await self._nomad_get(f"/v1/node/{node_id}/allocations")
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"pool allocations on node {node_id} still run {timeout_s:.0f} s after the drain")
            await asyncio.sleep(0.5)  # the client reports its allocations' state on its own schedule; poll it

    async def _node_fault(self, name: str) -> list[str]:
        """Lose the second node whole, or drain the node serving most watched tenants."""
        nodes = await self._node_ids()
        if name == "lose_node":
            on_node = [t for t, n in (await self._watched_nodes()).items() if n == nodes[SECOND_NODE]]
            assert on_node, "a lost node must serve a watched tenant"
            await asyncio.to_thread(self.stack.lose_second_node)
            self._answers_from = time.monotonic()
            return [f"SIGKILL node {SECOND_NODE}: its Nomad client, every task on it and its Consul agent; "
                    f"watched tenants on it: {on_node}"]
        placed = await self._watched_nodes()
        node_id = max(nodes.values(), key=lambda n: sum(1 for v in placed.values() if v == n))
        on_node = [t for t, n in placed.items() if n == node_id]
        assert on_node, "a drained node must serve a watched tenant"
        name_of = {v: k for k, v in nodes.items()}
        drain = {"DrainSpec": {"Deadline": int(DRAIN_DEADLINE_S * 1e9), "IgnoreSystemJobs": False},
                 "Meta": {"message": "fault suite: drain_node"}}
        await self._nomad_put(f"/v1/node/{node_id}/drain", drain)
        self._drained = node_id
        self._on_drained = on_node
        await self._wait_drained(node_id, timeout_s=DRAIN_DEADLINE_S + 90)
        await self._wait_stopped_on(node_id, timeout_s=60)
        self._answers_from = time.monotonic()  # every tenant must answer again from the other node
        return [f"drained node {name_of[node_id]} (deadline {DRAIN_DEADLINE_S} s); watched tenants on it: {on_node}"]

    async def _prepare(self, name: str) -> None:
        """Before a node fault (and before its clock starts): two nodes, and a watched tenant on the one to lose."""
        if name not in NODE_FAULTS:
            return
        if self.stack.state.nodes < 2:
            raise RuntimeError(f"{name} needs a stack with two Nomad client nodes (Stack.up(nodes=2))")
        if name == "lose_node":
            await self._put_a_watched_tenant_on((await self._node_ids())[SECOND_NODE])

    async def _restore(self, name: str) -> None:
        """Give back what a node fault took, once its cost is measured: the lost node restarts, the drained
        one takes work again."""
        if name == "lose_node":
            for service in ("consul-2", "nomad-2"):
                await asyncio.to_thread(self.stack.start, service, timeout=180)
            await self._rebalance((await self._node_ids())[SECOND_NODE])
        if name == "drain_node" and self._drained is not None:
            await self._nomad_put(f"/v1/node/{self._drained}/eligibility", {"Eligibility": "eligible"})
            await self._rebalance(self._drained)
            self._drained = None
            self._on_drained = []

    async def _rebalance(self, node_id: str) -> None:
        """Move half the free slots onto ``node_id``, which came back empty, as an operator would.

        Nomad never moves running allocations by itself, so after a node fault every slot sits on the
        other node, and the next node fault would find nothing to lose there. Stopping a free slot's
        allocation (``nomad alloc stop``) has Nomad place its replacement by the job's spread, on the
        empty node; free slots serve nobody, so no user notices.
        """
        free = (await protocol.snapshot(self.consul)).free()
        moved = 0
        for slot in reversed(free):  # highest indexes first: the churn claims the lowest
            if moved >= len(free) // 2:
                break
            alloc = await self.nomad.allocation(slot.alloc_id)
            if alloc is not None and alloc["NodeID"] != node_id:
                await self._nomad_put(f"/v1/allocation/{slot.alloc_id}/stop", {})
                moved += 1
        _, problems = await self.settle(time.monotonic(), timeout_s=180)
        if problems:
            raise RuntimeError(f"the pool did not settle after moving free slots to node {node_id}: {problems}")

    async def _fault(self, name: str) -> list[str]:
        """Inject fault ``name``; return notes on what was done."""
        if name in NODE_FAULTS:
            return await self._node_fault(name)
        victim = self.watched[0]
        if name == "kill_slot":
            pids = process.slot_pids(await self._slot_of(victim))
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            return [f"SIGKILL slot of {victim.tenant_id} (pids {pids})"]
        if name in ("kill_reconciler_leader", "kill_scaler_leader"):
            proc = await self._leader_process(name.split("_")[1])
            assert proc.pid is not None
            os.kill(proc.pid, signal.SIGKILL)
            return [f"SIGKILL {proc.role} {proc.name} (pid {proc.pid})"]
        if name.startswith("restart_"):
            service = name.removeprefix("restart_")
            await asyncio.to_thread(self.stack.restart, service, timeout=120)
            return [f"restarted {service}"]
        if name == "freeze_slot":
            victim = self.watched[1]
            pids = process.slot_pids(await self._slot_of(victim))
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(FREEZE_S)  # the deliberate pause of the scenario
            finally:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)
            return [f"SIGSTOP {FREEZE_S:.0f} s then SIGCONT slot of {victim.tenant_id} (pids {pids})"]
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")

    async def inject(self, name: str, *, timeout_s: float | None = None) -> FaultReport:
        """Inject one fault, wait until the system has healed itself, check what was lost; return the report.

        A node fault may take longer to heal (``NODE_SETTLE_S``): Nomad marks a lost node down only after
        its heartbeats are missed, and the slots that lived there start again on the other node.
        """
        assert self.churn is not None
        timeout_s = timeout_s or (NODE_SETTLE_S if name in NODE_FAULTS else 150)
        await self._prepare(name)
        confirmed_before = [b.confirmed for b in self.bookers]
        failed_before = sum(b.failed_steps for b in self.bookers)
        acked_before, refused_before = self.churn.acknowledged, self.churn.refused
        restarts_before = sum(p.restarts for p in self.processes)
        fault_at = time.monotonic()
        self._answers_from = None
        notes = await self._fault(name)
        # Answers count from when the fault has struck: a node's tasks may still answer while it is being killed.
        answers_from = self._answers_from or fault_at
        settled_at, problems = await self.settle(answers_from, timeout_s=timeout_s)
        double = await self._double_served()
        answered = [p.first_answer_after(answers_from) for p in self.probes]
        recovery = max((t - fault_at if t is not None else float("inf")) for t in answered)
        lost_activations = await self._unserved_activations()
        lost_bookings = await self._lost_bookings()
        end = time.monotonic()
        booked = sum(b.confirmed for b in self.bookers) - sum(confirmed_before)
        report = FaultReport(
            fault=name,
            longest_unanswered_s=round(max(p.longest_silence(fault_at, end) for p in self.probes), 2),
            recovery_s=round(recovery, 2),
            settled_s=round(settled_at - fault_at, 2),
            lost_activations=len(lost_activations),
            lost_bookings=lost_bookings,
            double_served=double + sum(1 for p in problems if p.startswith("double:")),
            orphan_claims=sum(1 for p in problems if p.startswith(("orphan:", "dangling:"))),
            control_restarts=sum(p.restarts for p in self.processes) - restarts_before,
            unresolved=problems,
            notes=[
                *notes, *(f"not served: {t}" for t in lost_activations),
                "longest silence per watched tenant (from-to, s after the fault): " + ", ".join(
                    p.describe_silence(fault_at, end)
                    + (" (on the drained node)" if p.tenant.tenant_id in self._on_drained else "")
                    for p in self.probes
                ),
                f"bookings confirmed meanwhile: {booked}, failed steps "
                f"{sum(b.failed_steps for b in self.bookers) - failed_before}; activations acknowledged "
                f"{self.churn.acknowledged - acked_before}, refused {self.churn.refused - refused_before}",
                *(f"client of {b.tenant.tenant_id}: {b.confirmed} booked, last error {b.last_error}"
                  for b in self.bookers),
            ],
        )
        self.reports.append(report)
        await self._restore(name)
        return report

    # ------------------------------------------------------------------ checks
    async def _problems(self, fault_at: float) -> list[str]:
        problems = []
        for proc in self.processes:
            if not proc.alive():
                problems.append(f"{proc.role} {proc.name} not running")
        for role in ("reconciler", "scaler"):
            if await LeaderElection(self.consul, instance="fault-probe", role=role).holder() is None:
                problems.append(f"no {role} leader")
        assert self.churn is not None
        snap = await protocol.snapshot(self.consul)
        problems += evidence.pool_problems(snap, [*self.watched, *self.churn.held])
        if len(snap.free()) < SCALER_KNOBS["MIN_FREE_BOTS"] - 1:  # one may be mid-claim by the churn
            problems.append(f"only {len(snap.free())} free slots")
        problems += [f"silent:{p.tenant.tenant_id}" for p in self.probes if p.first_answer_after(fault_at) is None]
        if self._drained is not None:  # every watched tenant answers from a slot on another node
            placed = await self._watched_nodes()
            problems += [f"on drained node:{t.tenant_id}" for t in self.watched
                         if placed.get(t.tenant_id, self._drained) == self._drained]
        return problems

    async def settle(self, fault_at: float, *, timeout_s: float) -> tuple[float, list[str]]:
        """Wait until the system is back to normal by itself; return when, and what was still wrong at the timeout."""
        deadline = time.monotonic() + timeout_s
        problems: list[str] = []
        while time.monotonic() < deadline:
            try:
                problems = await self._problems(fault_at)
            except Exception as exc:  # Consul itself is still coming back
                problems = [f"unreadable: {exc!r}"]
            if not problems:
                return time.monotonic(), []
            await asyncio.sleep(0.5)  # re-read the state (Consul, probes) until it is right
        return time.monotonic(), problems

    async def _double_served(self) -> int:
        """Tenants whose bot two processes poll: the stand-in ends one poll with 409 each time the other polls.

        The conflict counters are read, then each watched bot answers three more greetings (each answer is a
        fresh poll by the serving slot, which a second poller would collide with), then read again.
        """
        tenants = list(self.watched)
        before = [int((await self.control.bot_info(t.bot)).get("poll_conflicts", 0)) for t in tenants]
        for _ in range(3):
            for tenant in tenants:
                await greets(self.control, tenant, self._checker, wait_s=10)
        after = [int((await self.control.bot_info(t.bot)).get("poll_conflicts", 0)) for t in tenants]
        return sum(1 for a, b in zip(before, after, strict=True) if b > a)

    async def _unserved_activations(self) -> list[str]:
        """Acknowledged activations still held whose bot does not greet a client within ``LOST_AFTER_S``.

        Slow is not lost: a tenant whose slot died while every free slot was taken waits for the scaler's
        next batch (15-25 s to start here), and how long anyone waited is measured by the probes. Lost is
        a tenant that is not served even after that. The churn releases none of the tenants checked until
        every greeting is in: a release meanwhile stopped a bot on purpose, which once counted as a loss
        (about one ``make test`` in six). Each lost tenant is reported with the evidence of why.
        """
        assert self.churn is not None
        started = time.monotonic()
        async with self.churn.releases_paused() as held:
            results = await asyncio.gather(
                *(greets(self.control, t, self._checker, wait_s=LOST_AFTER_S) for t in held)
            )
        lost = [t for t, ok in zip(held, results, strict=True) if not ok]
        explain = functools.partial(
            evidence.explain, dsn=self.stack.env()["BOTPOOL_DATABASE_URL"], consul=self.consul,
            control=self.control, state_root=self.stack.state.root, history=self.churn.history,
        )
        return [f"{t.tenant_id} ({await explain(t, checked_at=started)})" for t in lost]

    async def _lost_bookings(self) -> int:
        """Bookings confirmed to a client (one snapshot of who was told, as bookers go on) that the database lacks."""
        conn = await asyncpg.connect(self.stack.env()["BOTPOOL_DATABASE_URL"])
        try:
            lost = 0
            for booker in self.bookers:
                told = list(booker.booked_by)
                schema = quote_ident(booker.tenant.tenant_id)
                stored = await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.bookings b JOIN {schema}.clients c ON c.id = b.client_id "
                    "WHERE c.telegram_id = ANY($1::bigint[]) AND b.status = 'confirmed'",
                    told,
                )
                lost += max(0, len(told) - int(stored))
            return lost
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def running_rig(
    stack: Stack, consul: Consul, nomad: NomadClient, activator: Activator, control_base_url: str,
    slot_env: dict[str, str], control_env: dict[str, str], workdir: Path, *, churn_interval_s: float = 1.0,
) -> AsyncIterator[Rig]:
    """A started ``Rig``; stopped (load, processes, tenants, pool job) however the block ends."""
    async with TelegramControl(control_base_url, timeout=60) as control:
        rig = Rig(stack, consul, nomad, activator, control, slot_env, control_env, workdir,
                  churn_interval_s=churn_interval_s)
        try:
            await rig.start()
            yield rig
        finally:
            await rig.stop()
