"""What a running local stack is: its folder, ports, pids, binaries and generated secrets.

Saved as ``stack.json`` (mode 0600, it holds the local admin credentials, among
them Vault's unseal key and its stack-admin and role tokens, never a root token
once Vault is configured) in the stack folder so that ``botpool
status``, ``down`` and ``reset``, run later from another process, find exactly
what ``botpool up`` started. It survives ``down`` (the ports must stay the same:
Consul, Nomad and Vault record their own addresses in their Raft data) and goes
with the data on ``reset``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class StackState:
    """Everything needed to reach, check and stop one local stack."""

    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    binaries: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    #: the process this stack lives and dies with (pid and start time); empty for a detached ``botpool up``
    owner: dict[str, int] = field(default_factory=dict)
    #: Nomad client nodes (1 or 2, ``botpool up --nodes``); kept so a later ``up`` or ``restart`` keeps them
    nodes: int = 1

    @property
    def file(self) -> Path:
        return self.root / "stack.json"

    def secret(self, name: str) -> str:
        """Return a generated local credential, creating it on first use."""
        if name not in self.secrets:
            self.secrets[name] = secrets.token_urlsafe(24)
        return self.secrets[name]

    def save(self) -> None:
        """Write the state atomically with owner-only permissions."""
        self.root.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["root"] = str(self.root)
        tmp = self.file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
        tmp.replace(self.file)

    @classmethod
    def load(cls, root: Path) -> StackState | None:
        """Return the saved state of the stack in ``root``, or None if there is none."""
        path = root / "stack.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        data["root"] = Path(data["root"])
        return cls(**data)
