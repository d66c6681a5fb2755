"""Not collected by the suite: run alone by ``test_parent_death`` as the test run that gets killed.

It takes the real session stack (the fixture under test), runs a Nomad job on
it (so there are executors, tasks and their mounts, which are nobody's
children), reports where everything is, and then waits to be signalled.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from devstack import acl
from devstack.stack import Stack


def test_hold_the_stack_until_signalled(stack: Stack) -> None:
    nomad = stack.env()["NOMAD_ADDR"]
    admin = {"X-Nomad-Token": acl.nomad_token(stack.state, "management")}
    job = {
        "ID": "hold", "Name": "hold", "Type": "service", "Datacenters": ["*"],
        "TaskGroups": [{"Name": "g", "Count": 2, "Tasks": [{
            "Name": "sleep", "Driver": "raw_exec", "Config": {"command": "/bin/sleep", "args": ["infinity"]},
            "Resources": {"CPU": 20, "MemoryMB": 16},
        }]}],
    }
    httpx.post(f"{nomad}/v1/jobs", json={"Job": job}, headers=admin, timeout=10).raise_for_status()
    index, deadline = 0, time.monotonic() + 120
    while time.monotonic() < deadline:
        resp = httpx.get(f"{nomad}/v1/job/hold/allocations", params={"index": index, "wait": "5s"}, headers=admin,
                         timeout=10)
        index = int(resp.headers.get("X-Nomad-Index", "0"))
        if sum(a["ClientStatus"] == "running" for a in resp.json()) == 2:
            break
    ready = Path(os.environ["BOTPOOL_HOLD_READY"])
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps({"root": str(stack.root), "services": stack.state.pids}))
    tmp.replace(ready)
    while True:
        signal.pause()
