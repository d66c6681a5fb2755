"""The five real services of the local stack, each a small class: how to start it, how to know it is healthy.

Every service runs the real binary on loopback, the way production runs it:
Consul, Nomad (server and client in one agent, raw_exec, the Consul
integration) and Vault (integrated Raft storage, initialised and unsealed by
this code) are single-node servers with their data on disk, so any of them can
be restarted without loss; beside them a PostgreSQL cluster and a
password-protected Redis. Nothing is mocked. ``--nodes 2`` adds a second
node on the same machine (devstack/nodes.py). Over 600 lines: PostgreSQL's
set-up (cluster, roles, scram repair) and Vault's initialisation are the two
long classes and read best whole; the ACL and Vault-access bootstrap already
live in devstack/acl.py and devstack/vault_access.py. The next split is
PostgreSQL and Redis into a module of their own (the non-HashiCorp services).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import string
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import httpx
import redis

from botpool.errors import DependencyUnavailable
from botpool.pool import handoff
from devstack import acl, vault_access
from devstack.binaries import REPO_ROOT, Binary, ensure
from devstack.process import minimal_env
from devstack.state import StackState

_PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: A ``local`` (Unix socket) line of pg_hba.conf whose method needs no password.
_LOCAL_AUTH = re.compile(r"^(local\s.*?)(trust|peer|ident|password|md5)[ \t]*$", re.MULTILINE)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (an agent config that holds a token), like the stack's state.

    ``fchmod`` as well as the creation mode: a file written by an older devstack keeps its mode otherwise.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def http_ok(url: str, *, headers: dict[str, str] | None = None) -> httpx.Response | None:
    """GET ``url`` for a health probe: the response, or ``None`` when nothing answers within 2 s."""
    try:
        return httpx.get(url, headers=headers, timeout=2.0)
    except httpx.HTTPError:
        return None


class Service(ABC):
    """One process of the stack; subclasses say how it starts and how it proves it is healthy."""

    name: ClassVar[str]
    #: port labels this service binds, with the port a human-run stack prefers
    port_labels: ClassVar[dict[str, int | None]]
    #: services that must be healthy before this one starts
    after: ClassVar[tuple[str, ...]] = ()
    user: ClassVar[str | None] = None
    #: the signal that shuts the service down cleanly (then SIGKILL if it does not)
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def binary(self, state: StackState) -> str:
        """Path of the executable, resolved (and built if needed) once per stack."""
        return state.binaries[self.name]["path"]

    def resolve_binary(self) -> Binary | None:
        """Find the binary; HashiCorp products may be built, others must be installed."""
        return None

    def prepare(self, state: StackState) -> None:
        """Create data directories and config files before the first start."""

    @abstractmethod
    def argv(self, state: StackState) -> list[str]:
        """The command line that starts the service in the foreground."""

    def env(self, state: StackState) -> dict[str, str]:
        """Extra environment for the process."""
        return {}

    @abstractmethod
    def problem(self, state: StackState) -> str | None:
        """None when healthy, else a short reason shown while waiting and by ``status``."""

    def advance(self, state: StackState) -> None:
        """Take the one step a running service cannot take alone to become healthy (Vault: init, unseal).

        Called while waiting for health, after every start and restart; a no-op for most services.
        """

    def after_healthy(self, state: StackState) -> None:
        """Setup once the service answers (databases, mounts); idempotent, run after every (re)start."""

    @abstractmethod
    def addresses(self, state: StackState) -> dict[str, str]:
        """Human-facing addresses printed by ``botpool up``."""

    def log(self, state: StackState) -> Path:
        return state.root / "logs" / f"{self.name}.log"


class HashiCorpService(Service):
    """A service whose binary is built from the Go module proxy when missing."""

    def resolve_binary(self) -> Binary:
        return ensure(self.name)


class Consul(HashiCorpService):
    """A single-node Consul server with its UI: pool state, slot health checks and locks, kept on disk."""

    name = "consul"
    port_labels: ClassVar[dict[str, int | None]] = {
        "consul_http": 8500,
        "consul_serf_lan": None,
        "consul_serf_wan": None,
        "consul_server": None,
    }

    def argv(self, state: StackState) -> list[str]:
        p = state.ports
        ports = (
            f"ports {{ http = {p['consul_http']} dns = -1 grpc = -1 grpc_tls = -1 "
            f"serf_lan = {p['consul_serf_lan']} serf_wan = {p['consul_serf_wan']} "
            f"server = {p['consul_server']} }}"
        )
        return [
            self.binary(state),
            "agent",
            "-server",
            "-bootstrap-expect=1",
            "-data-dir",
            str(state.root / "consul" / "data"),
            "-ui",
            "-client",
            "127.0.0.1",
            "-bind",
            "127.0.0.1",
            "-node",
            "botpool-local",
            "-log-level",
            "warn",
            "-hcl",
            ports,
            "-hcl",
            "disable_update_check = true",
            # Production's timing, not the default's 5x slack for slow hardware: a leader in ~1 s.
            "-hcl",
            "performance { raft_multiplier = 1 }",
            # Sync check output (WAITING / ACTIVE tenant=...) to the catalog at once, not every 5 min.
            "-hcl",
            'check_update_interval = "0s"',
            # Every slot on a node talks to its agent from one address and holds two blocking queries;
            # the default of 200 connections per client would refuse slots past ~100 with HTTP 429.
            "-hcl",
            "limits { http_max_conns_per_client = 2000 }",
            # ACLs as in production: nothing allowed without a token (devstack/acl.py, consul-policies/).
            "-hcl",
            'acl { enabled = true default_policy = "deny" enable_token_persistence = true }',
        ]

    def problem(self, state: StackState) -> str | None:
        resp = http_ok(f"http://127.0.0.1:{state.ports['consul_http']}/v1/status/leader")
        if resp is None or resp.status_code != 200:
            return "not answering"
        return None if resp.json() else "no leader yet"

    def after_healthy(self, state: StackState) -> None:
        base = f"http://127.0.0.1:{state.ports['consul_http']}"
        try:
            acl.consul_bootstrap(base, state)
            acl.consul_apply(base, state)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Consul is up but its ACLs could not be set up: {exc}") from exc

    def addresses(self, state: StackState) -> dict[str, str]:
        base = f"http://127.0.0.1:{state.ports['consul_http']}"
        return {"Consul UI": f"{base}/ui/", "CONSUL_HTTP_ADDR": base}


class Vault(HashiCorpService):
    """A single-node Vault server on integrated (Raft) storage: tenant bot tokens and response wrapping.

    Initialised once by the stack (one key share, threshold one) and unsealed on
    every start; the unseal key lives only in the stack's 0600 state file and
    travels only over loopback HTTP, never in argv or logs. The root token the
    initialisation returns is used once and revoked (``devstack.vault_access``):
    the stack tooling then works with its own narrow token, every role with its
    own. Production unseals differently (auto-unseal or key holders); the
    storage and the API are the same.
    """

    name = "vault"
    port_labels: ClassVar[dict[str, int | None]] = {"vault": 8200, "vault_cluster": None}
    #: the KV v2 mount the tenant tokens live in (BOTPOOL_VAULT_KV_MOUNT's default)
    KV_MOUNT = "secret"

    def base(self, state: StackState) -> str:
        """The API address."""
        return f"http://127.0.0.1:{state.ports['vault']}"

    def config_path(self, state: StackState) -> Path:
        return state.root / "vault" / "vault.hcl"

    def prepare(self, state: StackState) -> None:
        data = state.root / "vault" / "data"
        data.mkdir(parents=True, exist_ok=True)
        cluster = f"127.0.0.1:{state.ports['vault_cluster']}"
        self.config_path(state).write_text(
            f'storage "raft" {{\n  path = "{data}"\n  node_id = "botpool-local"\n  performance_multiplier = 1\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{state.ports["vault"]}"\n'
            f'  cluster_address = "{cluster}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.base(state)}"\ncluster_addr = "https://{cluster}"\n'
            "disable_mlock = true\nui = true\n"
        )

    def argv(self, state: StackState) -> list[str]:
        return [self.binary(state), "server", f"-config={self.config_path(state)}", "-log-level=warn"]

    def env(self, state: StackState) -> dict[str, str]:
        # The server reads VAULT_* variables; never let an operator's real token leak in.
        return {"VAULT_TOKEN": "", "VAULT_ADDR": "", "HOME": str(state.root)}

    def problem(self, state: StackState) -> str | None:
        resp = http_ok(f"{self.base(state)}/v1/sys/health")
        if resp is None:
            return "not answering"
        return None if resp.status_code == 200 else _VAULT_HEALTH.get(resp.status_code, f"health {resp.status_code}")

    def advance(self, state: StackState) -> None:
        resp = http_ok(f"{self.base(state)}/v1/sys/health")
        if resp is None:
            return
        if resp.status_code == 501:
            self._initialise(state)
        if resp.status_code in (501, 503):
            key = state.secrets.get("vault_unseal_key")
            if key is None:
                raise DependencyUnavailable(
                    f"Vault's data in {state.root / 'vault'} was initialised but this stack has no unseal key; "
                    "`botpool reset` deletes the stack's data and starts afresh"
                )
            # A refusal while Vault is still settling is retried on the next poll; problem() shows why it waits.
            with contextlib.suppress(httpx.HTTPError):
                httpx.put(f"{self.base(state)}/v1/sys/unseal", json={"key": key}, timeout=10)

    def _initialise(self, state: StackState) -> None:
        try:
            resp = httpx.put(
                f"{self.base(state)}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, timeout=30
            )
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Vault could not be initialised: {exc}") from exc
        body = resp.json()
        state.secrets["vault_unseal_key"] = body["keys_base64"][0]
        # Kept only until the first configuration (seconds): it issues the stack's own token and is revoked.
        state.secrets[vault_access.ROOT_KEY] = body["root_token"]
        state.save()  # before anything else: without the key the data cannot be unsealed again

    def after_healthy(self, state: StackState) -> None:
        try:
            self._configure(state)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Vault is unsealed but could not be configured: {exc}") from exc

    def _configure(self, state: StackState) -> None:
        """Re-create idempotently the KV v2 mount for tenant tokens, the role policies and one token per role.

        First of all, no root token may remain: ``ensure_admin`` turns the one the
        initialisation returned (or an older stack kept) into the stack tooling's own token.
        """
        vault_access.ensure_admin(self.base(state), state)
        headers = vault_access.admin_headers(state)
        mounts = httpx.get(f"{self.base(state)}/v1/sys/mounts", headers=headers, timeout=10)
        mounts.raise_for_status()
        if f"{self.KV_MOUNT}/" not in mounts.json()["data"]:
            httpx.post(
                f"{self.base(state)}/v1/sys/mounts/{self.KV_MOUNT}",
                headers=headers,
                json={"type": "kv", "options": {"version": "2"}},
                timeout=10,
            ).raise_for_status()
        # A new KV v2 mount refuses requests for a moment while it sets itself up; wait for a plain miss.
        probe = f"{self.base(state)}/v1/{self.KV_MOUNT}/data/botpool-stack/probe"
        deadline = time.monotonic() + 30
        while (resp := httpx.get(probe, headers=headers, timeout=10)).status_code != 404:
            if time.monotonic() > deadline:
                raise DependencyUnavailable(f"Vault's KV mount {self.KV_MOUNT}/ not ready: HTTP {resp.status_code}")
            time.sleep(0.1)
        vault_access.apply_roles(self.base(state), state)

    def addresses(self, state: StackState) -> dict[str, str]:
        base = self.base(state)
        return {"Vault UI": f"{base}/ui/ (if built with UI)", "VAULT_ADDR": base}


_VAULT_HEALTH = {429: "standby", 501: "not initialised", 503: "sealed"}


class Nomad(HashiCorpService):
    """A single-node Nomad agent, server and client in one, with its state on disk, that runs the pool job.

    raw_exec is enabled (no Docker here) and services register in the local
    Consul. Its executors and tasks outlive an agent restart by design, and
    the agent re-attaches to them from its data dir when it comes back.
    """

    name = "nomad"
    port_labels: ClassVar[dict[str, int | None]] = {
        "nomad_http": 4646,
        "nomad_rpc": None,
        "nomad_serf": None,
    }
    after = ("consul", "vault")
    #: Vault's JWT auth method for Nomad workload identities (the agents' ``jwt_auth_backend_path``).
    JWT_MOUNT = "jwt-nomad"
    #: The role pool slots log in with, and the policy it grants (both files in vault-policies/).
    SLOT_ROLE = "botpool-slot"

    def config_path(self, state: StackState) -> Path:
        return state.root / "nomad" / "agent.hcl"

    def prepare(self, state: StackState) -> None:
        template = string.Template((REPO_ROOT / "nomad" / "local.hcl").read_text())
        data_dir = state.root / "nomad" / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        text = template.substitute(
                data_dir=data_dir,
                http_port=state.ports["nomad_http"],
                rpc_port=state.ports["nomad_rpc"],
                serf_port=state.ports["nomad_serf"],
                consul_http_port=state.ports["consul_http"],
                vault_port=state.ports["vault"],
                memory_mb=node_memory_mb(state),
                consul_token=acl.consul_token(state, "nomad"),
        )
        write_private(self.config_path(state), text)  # it holds the agent's Consul token

    def argv(self, state: StackState) -> list[str]:
        # The Consul agent of this node, for a pool job spread over several nodes (see ConsulClientAgent).
        consul = f"http://127.0.0.1:{state.ports['consul_http']}"
        return [
            self.binary(state), "agent", "-config", str(self.config_path(state)), "-meta", f"consul_http_addr={consul}"
        ]

    def env(self, state: StackState) -> dict[str, str]:
        return {"NOMAD_ADDR": "", "NOMAD_TOKEN": "", "CONSUL_HTTP_TOKEN": ""}

    def problem(self, state: StackState) -> str | None:
        base = f"http://127.0.0.1:{state.ports['nomad_http']}"
        headers = acl.nomad_headers(state)
        resp = http_ok(f"{base}/v1/nodes", headers=headers)
        if resp is None or resp.status_code != 200:
            return "not answering"
        # This agent's own client node, not the second node's (which has a name of its own).
        mine = [n for n in resp.json() if n.get("Name") != SECOND_NODE]
        return node_problem(base, mine, headers)

    def advance(self, state: StackState) -> None:
        acl.nomad_bootstrap(f"http://127.0.0.1:{state.ports['nomad_http']}", state)

    def after_healthy(self, state: StackState) -> None:
        base = f"http://127.0.0.1:{state.ports['nomad_http']}"
        try:
            acl.nomad_apply(base, state)
            acl.consul_workload_identity(f"http://127.0.0.1:{state.ports['consul_http']}", base, state)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Nomad is up but the ACLs could not be set up: {exc}") from exc
        try:
            self._configure_vault(state)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(
                f"Nomad is up but Vault could not be set up for its workload identities: {exc}"
            ) from exc

    def _configure_vault(self, state: StackState) -> None:
        """Let slots log in to Vault with their workload identity; idempotent, as in production (docs/operating.md).

        Here and not in Vault's set-up: Vault checks the JWKS URL when the auth
        method is configured, so Nomad must already answer. The slot policy
        names the mount by its accessor, known only once the mount exists.
        """
        vault = f"http://127.0.0.1:{state.ports['vault']}"
        headers = vault_access.admin_headers(state)
        auths = httpx.get(f"{vault}/v1/sys/auth", headers=headers, timeout=10)
        auths.raise_for_status()
        if f"{self.JWT_MOUNT}/" not in auths.json()["data"]:
            httpx.post(
                f"{vault}/v1/sys/auth/{self.JWT_MOUNT}", headers=headers, json={"type": "jwt"}, timeout=10
            ).raise_for_status()
            auths = httpx.get(f"{vault}/v1/sys/auth", headers=headers, timeout=10)
            auths.raise_for_status()
        accessor = auths.json()["data"][f"{self.JWT_MOUNT}/"]["accessor"]
        jwks = {
            "jwks_url": f"http://127.0.0.1:{state.ports['nomad_http']}/.well-known/jwks.json",
            "jwt_supported_algs": ["RS256", "EdDSA"],
        }
        deadline = time.monotonic() + 30
        # A just-elected Nomad server may not serve its keys for a moment; Vault then refuses the URL.
        while (resp := httpx.post(f"{vault}/v1/auth/{self.JWT_MOUNT}/config", headers=headers, json=jwks,
                                  timeout=10)).status_code >= 400:
            if time.monotonic() > deadline:
                raise DependencyUnavailable(
                    f"Vault refused Nomad's JWKS URL: HTTP {resp.status_code} {resp.text[:200]}"
                )
            time.sleep(0.2)
        policy = handoff.render_slot_policy((REPO_ROOT / "vault-policies" / "botpool-slot.hcl").read_text(), accessor)
        httpx.put(
            f"{vault}/v1/sys/policies/acl/{self.SLOT_ROLE}", headers=headers, json={"policy": policy}, timeout=10
        ).raise_for_status()
        role = json.loads((REPO_ROOT / "vault-policies" / "botpool-slot-role.json").read_text())
        httpx.post(
            f"{vault}/v1/auth/{self.JWT_MOUNT}/role/{self.SLOT_ROLE}", headers=headers, json=role, timeout=10
        ).raise_for_status()

    def addresses(self, state: StackState) -> dict[str, str]:
        base = f"http://127.0.0.1:{state.ports['nomad_http']}"
        return {"Nomad API": base, "NOMAD_ADDR": base}


#: Node name of the second node's Consul and Nomad agents (devstack/nodes.py); the first node's is the host's.
SECOND_NODE = "botpool-local-2"


def node_memory_mb(state: StackState) -> int:
    """One node's share of the machine's memory budget for slots (BOTPOOL_NOMAD_MEMORY_MB, split evenly)."""
    return int(os.environ.get("BOTPOOL_NOMAD_MEMORY_MB", "22500")) // max(1, state.nodes)


def node_problem(base: str, nodes: list[dict[str, object]], headers: dict[str, str]) -> str | None:
    """Why the client node in ``nodes`` (from ``/v1/nodes`` of the API at ``base``) cannot run slots yet, or None.

    ``headers`` carry the stack tooling's Nomad token (ACLs are on).
    """
    ready = [n for n in nodes if n.get("Status") == "ready"]
    if not ready:
        return "no ready client node yet"
    node = http_ok(f"{base}/v1/node/{ready[0]['ID']}", headers=headers)
    if node is None or node.status_code != 200:
        return "node not readable"
    raw_exec = node.json().get("Drivers", {}).get("raw_exec", {})
    return None if raw_exec.get("Healthy") else "raw_exec driver not healthy yet"


class Postgres(Service):
    """A throwaway PostgreSQL 15 cluster: control schema, one schema and role per tenant."""

    name = "postgres"
    port_labels: ClassVar[dict[str, int | None]] = {"postgres": 55432}
    user = "postgres" if os.geteuid() == 0 else None
    #: "fast" shutdown: SIGTERM's "smart" one would wait for every client (slots, the reconciler) to leave first
    stop_signal = signal.SIGINT

    def resolve_binary(self) -> Binary | None:
        postgres = _PG_BIN / "postgres"
        if not postgres.exists():
            return None
        return Binary("postgres", postgres, "15", "path")

    @property
    def data_dir_name(self) -> str:
        return "postgres"

    def prepare(self, state: StackState) -> None:
        data = state.root / "postgres" / "data"
        if (data / "PG_VERSION").exists():
            self._harden(state)  # a cluster initialised by an older devstack, with `trust` on its socket
            return
        data.mkdir(parents=True, exist_ok=True)
        pwfile = state.root / "postgres" / "pwfile"
        pwfile.write_text(state.secret("postgres_password") + "\n")
        sockets = state.root / "postgres" / "sockets"
        sockets.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            record = pwd.getpwnam(self.user)
            for path in (state.root / "postgres", data, sockets, pwfile):
                os.chown(path, record.pw_uid, record.pw_gid)
            os.chmod(state.root, 0o755)  # noqa: S103 - the postgres user must traverse it
        cmd = [
            str(_PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True)
        pwfile.unlink()

    def argv(self, state: StackState) -> list[str]:
        # fsync off: this cluster is throwaway by design; production uses a real server.
        return [
            self.binary(state),
            "-D",
            str(state.root / "postgres" / "data"),
            "-p",
            str(state.ports["postgres"]),
            "-k",
            str(state.root / "postgres" / "sockets"),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=500",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "log_min_messages=warning",
        ]

    def dsn(self, state: StackState, database: str = "botpool") -> str:
        """Superuser DSN (secret): used by provisioning and tests, never by tenant bots."""
        return (
            f"postgresql://postgres:{state.secret('postgres_password')}@127.0.0.1:{state.ports['postgres']}/{database}"
        )

    def problem(self, state: StackState) -> str | None:
        result = subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(state.ports["postgres"])],
            check=False,
            capture_output=True,
        )
        return None if result.returncode == 0 else "not accepting connections"

    def after_healthy(self, state: StackState) -> None:
        if self._harden(state):
            self._psql(state, "SELECT pg_reload_conf()")
        if self._psql(state, "SELECT 1 FROM pg_database WHERE datname = 'botpool'") != "1":
            self._psql(state, "CREATE DATABASE botpool")

    def _psql(self, state: StackState, sql: str) -> str:
        """Run one statement as the superuser over the private socket; the password goes by environment, not argv."""
        done = subprocess.run(
            ["psql", "-h", str(state.root / "postgres" / "sockets"), "-p", str(state.ports["postgres"]),
             "-U", "postgres", "-d", "postgres", "-tAc", sql],
            check=True,
            capture_output=True,
            text=True,
            env={**minimal_env(), "PGPASSWORD": state.secret("postgres_password")},
        )
        return done.stdout.strip()

    def _harden(self, state: StackState) -> bool:
        """Make socket logins need the password and the socket folder private; True if pg_hba.conf changed.

        Clusters created before this rule had ``trust`` on a socket any local
        account could reach: anyone on the host was the superuser. Idempotent,
        so every start repairs an older cluster in place (no ``reset`` needed).
        """
        sockets = state.root / "postgres" / "sockets"
        if sockets.exists():
            os.chmod(sockets, 0o700)
        hba = state.root / "postgres" / "data" / "pg_hba.conf"
        if not hba.exists():
            return False
        text = hba.read_text()
        hardened = _LOCAL_AUTH.sub(r"\1scram-sha-256", text)
        if hardened == text:
            return False
        hba.write_text(hardened)  # rewritten in place: the file keeps its owner and its 0600 mode
        return True

    def addresses(self, state: StackState) -> dict[str, str]:
        return {"PostgreSQL": f"postgresql://postgres@127.0.0.1:{state.ports['postgres']}/botpool"}


class Redis(Service):
    """A password-protected Redis 7 on loopback: FSM state and rate limits, one ACL user per tenant.

    Users live in an ``aclfile`` (provisioning runs ``ACL SAVE``), so tenant
    users survive a restart of Redis the way production must keep them
    (docs/operating.md). The admin password is in that file as a SHA-256
    hash, never on the command line. Data is kept in an append-only file
    (fsync every second): a buyer's or a client's conversation state is in
    Redis, and a restart must not send them back to the start.
    """

    name = "redis"
    port_labels: ClassVar[dict[str, int | None]] = {"redis": 56379}

    def resolve_binary(self) -> Binary | None:
        path = shutil.which("redis-server")
        if path is None:
            return None
        out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
        version = next((w[2:] for w in out.split() if w.startswith("v=")), "?")
        return Binary("redis", Path(path), version, "path")

    def acl_path(self, state: StackState) -> Path:
        """The ACL file Redis loads at start and rewrites on ``ACL SAVE``."""
        return state.root / "redis" / "users.acl"

    def prepare(self, state: StackState) -> None:
        """Write the ACL file with the admin (default) user once; later starts load what ``ACL SAVE`` left."""
        path = self.acl_path(state)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return
        # Redis refuses to start without the file, and an empty one would leave `default` without a password.
        digest = hashlib.sha256(state.secret("redis_password").encode()).hexdigest()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"user default on #{digest} ~* &* +@all\n")

    def argv(self, state: StackState) -> list[str]:
        return [
            self.binary(state),
            "--bind",
            "127.0.0.1",
            "--port",
            str(state.ports["redis"]),
            "--protected-mode",
            "yes",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            str(state.root / "redis"),
            "--aclfile",
            str(self.acl_path(state)),
            "--loglevel",
            "warning",
        ]

    def url(self, state: StackState) -> str:
        """Admin URL (secret) used by provisioning and tests; tenants get their own ACL users."""
        return f"redis://default:{state.secret('redis_password')}@127.0.0.1:{state.ports['redis']}/0"

    def problem(self, state: StackState) -> str | None:
        try:
            client = redis.Redis.from_url(self.url(state), socket_timeout=2)
            client.ping()
            client.close()
        except redis.RedisError as exc:
            return type(exc).__name__
        return None

    def addresses(self, state: StackState) -> dict[str, str]:
        return {"Redis": f"redis://127.0.0.1:{state.ports['redis']}"}


def control_env(state: StackState, role: str = "operator") -> dict[str, str]:
    """Variables that point botpool's services and the HashiCorp CLIs at this stack, with ``role``'s own tokens.

    Holds the local admin database and Redis URLs and the Consul, Vault and
    Nomad tokens of ``role`` (the operator's for the developer's shell, the
    reconciler's for the reconciler, the scaler's, the sales bot's), never a
    management token: for this developer's shell and child processes only. A
    role with no token in a product (the reconciler and the sales bot call no
    Nomad API, the scaler no Vault) gets no variable for it, so a call it
    should never make is refused, not made with someone else's rights.
    Defined here, beside the services it names, so the stack and the
    processes it starts read the same variables without importing each other.
    """
    env = {
        "CONSUL_HTTP_ADDR": f"http://127.0.0.1:{state.ports['consul_http']}",
        "CONSUL_HTTP_TOKEN": acl.consul_token(state, role),
        "VAULT_ADDR": f"http://127.0.0.1:{state.ports['vault']}",
        "NOMAD_ADDR": f"http://127.0.0.1:{state.ports['nomad_http']}",
        "BOTPOOL_DATABASE_URL": Postgres().dsn(state),
        "BOTPOOL_REDIS_URL": Redis().url(state),
    }
    if role in vault_access.ROLES:
        env["VAULT_TOKEN"] = vault_access.role_token(state, role)
    if acl.nomad_token(state, role):
        env["NOMAD_TOKEN"] = acl.nomad_token(state, role)
    return env


#: The backing services, in start order; ``after`` adds the few real dependencies.
ALL: tuple[Service, ...] = (Consul(), Vault(), Postgres(), Redis(), Nomad())
