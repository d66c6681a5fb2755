"""Consul and Nomad ACLs of the local stack: bootstrap once, then policies and a token per role on every ``up``.

Both products run with ACLs on and nothing allowed by default, as production
must (docs/operating.md). The management tokens are created here with a
secret this code chose first and saved in the stack's 0600 state before the
bootstrap call, so a crash in between cannot lose them; they are used only by
this tooling (and the tests' own assertions), never handed to a process.
Every role's policy is a file in ``consul-policies/`` or ``nomad-policies/``,
re-applied on each ``up`` so an edited file takes effect; every role's token
is kept in the state and re-created if the cluster no longer knows it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from botpool.errors import DependencyUnavailable
from devstack.binaries import REPO_ROOT
from devstack.state import StackState

CONSUL_POLICIES = REPO_ROOT / "consul-policies"
NOMAD_POLICIES = REPO_ROOT / "nomad-policies"
#: Consul's JWT auth method for Nomad workload identities (as ``nomad setup consul`` names it).
CONSUL_AUTH_METHOD = "nomad-workloads"
#: Which job's task identity gets which Consul policy (binding rules on the ``nomad_job_id`` claim).
CONSUL_JOB_ROLES = {
    "bot-pool": "slot", "pool-scaler": "scaler", "sales-bot": "sales-bot", "monitoring": "monitoring",
    "operator-bot": "operator-bot",
}
#: Jobs whose every task login also gets a node identity named from its allocation (``slot-<allocation id>``):
#: the one catalog node a slot may write, on which it publishes its state (``botpool.pool.keys.slot_node``).
CONSUL_JOB_NODE_IDENTITIES = {"bot-pool": "slot-${value.nomad_allocation_id}"}
#: Nomad policies bound to a job's workload identity: the scaler's task may scale the pool as itself.
NOMAD_JOB_ROLES = {"pool-scaler": ("scaler", "scaler", "scaler")}
#: Roles whose Consul token the stack makes (the slot's comes from its workload identity instead).
CONSUL_TOKEN_ROLES = ("agent", "nomad", "scaler", "reconciler", "sales-bot", "operator", "operator-bot")
#: Roles whose Nomad token the stack makes; a slot and the sales bot call no Nomad API (the reconciler reads nodes,
#: the operator bot reads and scales the pool job).
NOMAD_TOKEN_ROLES = ("scaler", "reconciler", "operator", "operator-bot")


def policy_name(role: str) -> str:
    """The ACL policy (and token description) name of a role in both products."""
    return f"botpool-{role}"


def consul_token(state: StackState, role: str) -> str:
    """The stack's Consul token for ``role`` (``management`` for the tooling's own calls); "" before it exists."""
    return state.secrets.get(f"consul_token_{role}", "")


def nomad_token(state: StackState, role: str) -> str:
    """The stack's Nomad token for ``role`` (``management`` for the tooling's own calls); "" if it has none."""
    return state.secrets.get(f"nomad_token_{role}", "")


def nomad_headers(state: StackState) -> dict[str, str]:
    """Headers of the stack tooling's own Nomad calls (health probes); empty before the bootstrap."""
    token = state.secrets.get("nomad_token_management")
    return {"X-Nomad-Token": token} if token else {}


# ------------------------------------------------------------------ Consul
def consul_bootstrap(base: str, state: StackState) -> None:
    """Bootstrap Consul's ACL system once with a management secret saved beforehand; idempotent."""
    if "consul_token_management" in state.secrets and _consul_knows(base, state.secrets["consul_token_management"]):
        return
    secret = state.secrets.setdefault("consul_token_management", str(uuid.uuid4()))
    state.save()
    deadline = time.monotonic() + 30
    while True:
        resp = httpx.put(f"{base}/v1/acl/bootstrap", json={"BootstrapSecret": secret}, timeout=10)
        if resp.status_code == 200 or _consul_knows(base, secret):
            return
        if "ACL bootstrap no longer allowed" in resp.text:
            raise DependencyUnavailable(
                "Consul's ACLs were bootstrapped with a token this stack does not have; "
                "`botpool reset` deletes the stack's data and starts afresh"
            )
        if time.monotonic() > deadline:
            raise DependencyUnavailable(f"Consul's ACL bootstrap failed: HTTP {resp.status_code} {resp.text[:200]}")
        time.sleep(0.2)  # no leader yet, or ACLs still initialising


def _ok(resp: httpx.Response) -> None:
    """Raise with the product's own explanation (its body names the problem), never a bare status."""
    if resp.status_code >= 400:
        raise DependencyUnavailable(f"{resp.request.method} {resp.request.url.path}: HTTP {resp.status_code} "
                                    f"{resp.text[:300]}")


def _consul_knows(base: str, token: str) -> bool:
    resp = httpx.get(f"{base}/v1/acl/token/self", headers={"X-Consul-Token": token}, timeout=10)
    return resp.status_code == 200


def consul_apply(base: str, state: StackState) -> None:
    """Write every role's policy from its file and make the roles' tokens; set the agent's own token."""
    headers = {"X-Consul-Token": consul_token(state, "management")}
    for path in sorted(CONSUL_POLICIES.glob("*.hcl")):
        name = policy_name(path.stem)
        body = {"Name": name, "Description": f"botpool role {path.stem} ({path.name})", "Rules": path.read_text()}
        found = httpx.get(f"{base}/v1/acl/policy/name/{name}", headers=headers, timeout=10)
        url = f"{base}/v1/acl/policy/{found.json()['ID']}" if found.status_code == 200 else f"{base}/v1/acl/policy"
        _ok(httpx.put(url, headers=headers, json=body, timeout=10))
    for role in CONSUL_TOKEN_ROLES:
        secret = state.secrets.setdefault(f"consul_token_{role}", str(uuid.uuid4()))
        if _consul_knows(base, secret):
            continue
        token: dict[str, Any] = {
            "SecretID": secret, "Description": policy_name(role), "Policies": [{"Name": policy_name(role)}],
        }
        _ok(httpx.put(f"{base}/v1/acl/token", headers=headers, json=token, timeout=10))
    state.save()
    _ok(httpx.put(
        f"{base}/v1/agent/token/agent", headers=headers, json={"Token": consul_token(state, "agent")}, timeout=10
    ))


def consul_workload_identity(base: str, nomad_base: str, state: StackState) -> None:
    """Let Nomad tasks log in to Consul with their workload identity and get their job's role policy.

    The auth method trusts tokens Nomad signs (its JWKS URL) for the audience
    ``consul.io``; one binding rule per job gives that job's tasks their role's
    policy. A job with no rule (anything else) gets no token at all. A pool
    slot's login also gets the node identity ``slot-<its allocation id>``
    (bind type "node", the name computed from the identity's
    ``nomad_allocation_id`` claim): Consul has no templated key rules, but it
    computes an identity's name at login, so this is how each slot gets a
    write no other slot has.
    """
    headers = {"X-Consul-Token": consul_token(state, "management")}
    method: dict[str, Any] = {
        "Name": CONSUL_AUTH_METHOD,
        "Type": "jwt",
        "DisplayName": "Nomad workload identities",
        "TokenLocality": "local",
        "Config": {
            "JWKSURL": f"{nomad_base}/.well-known/jwks.json",
            "JWTSupportedAlgs": ["RS256"],
            "BoundAudiences": ["consul.io"],
            "ClaimMappings": {
                "nomad_namespace": "nomad_namespace",
                "nomad_job_id": "nomad_job_id",
                "nomad_task": "nomad_task",
                "nomad_service": "nomad_service",
                "nomad_allocation_id": "nomad_allocation_id",
            },
        },
    }
    exists = httpx.get(f"{base}/v1/acl/auth-method/{CONSUL_AUTH_METHOD}", headers=headers, timeout=10)
    url = f"{base}/v1/acl/auth-method" + (f"/{CONSUL_AUTH_METHOD}" if exists.status_code == 200 else "")
    _ok(httpx.put(url, headers=headers, json=method, timeout=10))
    rules = httpx.get(
        f"{base}/v1/acl/binding-rules", params={"authmethod": CONSUL_AUTH_METHOD}, headers=headers, timeout=10
    )
    _ok(rules)
    existing = {(rule["Selector"], rule["BindType"]): rule for rule in rules.json()}
    wanted: list[dict[str, str]] = []
    for job, role in CONSUL_JOB_ROLES.items():
        selector = f'value.nomad_job_id == "{job}" and "nomad_service" not in value'
        wanted.append({
            "Selector": selector, "BindType": "policy", "BindName": policy_name(role),
            "Description": f"tasks of job {job} get role {role}",
        })
        if job in CONSUL_JOB_NODE_IDENTITIES:
            wanted.append({
                "Selector": selector, "BindType": "node", "BindName": CONSUL_JOB_NODE_IDENTITIES[job],
                "Description": f"each allocation of job {job} may write its own state node",
            })
    for rule in wanted:
        found = existing.get((rule["Selector"], rule["BindType"]))
        url = f"{base}/v1/acl/binding-rule" + (f"/{found['ID']}" if found else "")
        _ok(httpx.put(url, headers=headers, json={"AuthMethod": CONSUL_AUTH_METHOD, **rule}, timeout=10))


# ------------------------------------------------------------------- Nomad
def nomad_bootstrap(base: str, state: StackState) -> None:
    """Bootstrap Nomad's ACL system once with a management secret saved beforehand; idempotent, quiet until a leader."""
    known = state.secrets.get("nomad_token_management")
    if known is not None and _nomad_knows(base, known):
        return
    secret = state.secrets.setdefault("nomad_token_management", str(uuid.uuid4()))
    state.save()
    try:
        resp = httpx.post(f"{base}/v1/acl/bootstrap", json={"BootstrapSecret": secret}, timeout=10)
    except httpx.HTTPError:
        return  # not answering yet: the next poll retries
    if resp.status_code == 200 or _nomad_knows(base, secret):
        return
    if "ACL bootstrap already done" in resp.text:
        raise DependencyUnavailable(
            "Nomad's ACLs were bootstrapped with a token this stack does not have; "
            "`botpool reset` deletes the stack's data and starts afresh"
        )


def _nomad_knows(base: str, token: str) -> bool:
    try:
        resp = httpx.get(f"{base}/v1/acl/token/self", headers={"X-Nomad-Token": token}, timeout=10)
    except httpx.HTTPError:
        return False
    return resp.status_code == 200


def nomad_apply(base: str, state: StackState) -> None:
    """Write every role's Nomad policy from its file, bind the scaler's to its job, and make the roles' tokens."""
    headers = nomad_headers(state)
    for path in sorted(NOMAD_POLICIES.glob("*.hcl")):
        body: dict[str, Any] = {"Name": policy_name(path.stem), "Description": f"botpool role {path.stem}",
                                "Rules": path.read_text()}
        _ok(httpx.post(f"{base}/v1/acl/policy/{policy_name(path.stem)}", headers=headers, json=body,
                    timeout=10))
    for job, (group, task, role) in NOMAD_JOB_ROLES.items():
        body = {"Name": policy_name(f"{role}-job"), "Description": f"job {job}'s workload identity: role {role}",
                "Rules": (NOMAD_POLICIES / f"{role}.hcl").read_text(),
                "JobACL": {"Namespace": "default", "JobID": job, "Group": group, "Task": task}}
        _ok(httpx.post(f"{base}/v1/acl/policy/{body['Name']}", headers=headers, json=body,
                    timeout=10))
    for role in NOMAD_TOKEN_ROLES:
        key = f"nomad_token_{role}"
        if key in state.secrets and _nomad_knows(base, state.secrets[key]):
            continue
        body = {"Name": policy_name(role), "Type": "client", "Policies": [policy_name(role)]}
        resp = httpx.post(f"{base}/v1/acl/token", headers=headers, json=body, timeout=10)
        _ok(resp)
        state.secrets[key] = resp.json()["SecretID"]
        state.save()

