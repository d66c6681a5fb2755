"""A separate process holding one slot's credentials that races for another slot's handoff (the theft test).

It does what a compromised slot could: watch every claim in Consul (readable by
all slots) and, the moment a tenant claim names another allocation, hammer
that allocation's handoff path in Vault with its own slot token, trying to
read it, delete it and unwrap whatever it might find. It prints ``ready`` once
watching, then one JSON line when the claimed slot reports ACTIVE or the time
runs out: how many reads it made, the HTTP statuses Vault answered, and
whether it ever obtained a wrapping token or a secret.

Arguments: Consul address, Vault address, the thief's vault_token file, the
thief's own allocation id, and the seconds to keep trying.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from botpool.clients import consul as consul_client
from botpool.pool import protocol
from botpool.pool.model import ClaimKind, SlotMode
from botpool.settings import ConsulSettings


async def main(consul_addr: str, vault_addr: str, token_file: Path, own_alloc: str, seconds: float) -> None:
    # The stolen slot's own Consul token, beside its Vault token in the allocation's secrets dir.
    consul_token = (token_file.parent / "consul_token").read_text().strip()
    consul = consul_client.connect(ConsulSettings(CONSUL_HTTP_ADDR=consul_addr, CONSUL_HTTP_TOKEN=consul_token))
    statuses: Counter[str] = Counter()
    stolen: list[str] = []
    targets: set[str] = set()
    headers = {"X-Vault-Token": token_file.read_text().strip()}
    deadline = time.monotonic() + seconds
    print("ready", flush=True)
    async with httpx.AsyncClient(base_url=vault_addr, headers=headers, timeout=5) as vault:
        snap = await protocol.snapshot(consul)
        while time.monotonic() < deadline:
            for index, claim in snap.claims.items():
                if claim.kind is ClaimKind.TENANT and claim.alloc_id != own_alloc:
                    targets.add(f"{claim.alloc_id}/{claim.attempt}")
                    state = snap.slots.get(index)
                    if state is not None and state.attempt == claim.attempt and state.mode is SlotMode.ACTIVE:
                        deadline = 0  # the tenant is served: the race is over
            for target in targets:
                read = await vault.get(f"/v1/secret/data/handoff/{target}")
                statuses[f"read {read.status_code}"] += 1
                if read.status_code == 200:
                    stolen.append(target)
                    token = read.json()["data"]["data"].get("wrap_token", "")
                    unwrap = await vault.post("/v1/sys/wrapping/unwrap", headers={"X-Vault-Token": token})
                    statuses[f"unwrap {unwrap.status_code}"] += 1
                gone = await vault.delete(f"/v1/secret/metadata/handoff/{target}")
                statuses[f"delete {gone.status_code}"] += 1
            listing = await vault.request("LIST", "/v1/secret/metadata/handoff/")
            statuses[f"list {listing.status_code}"] += 1
            # No target yet: wait for the pool to change; then re-read at once, to race as hard as a thief would.
            snap = await protocol.snapshot(consul, since=None if targets else snap.index, wait="1s")
    await consul.close()
    print(json.dumps({"targets": sorted(targets), "statuses": dict(statuses), "stolen": stolen}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
