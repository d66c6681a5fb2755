"""An operator whose services are down gets one clear line and a failing exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import ports

SECRET = "cli-test-db-password"


@pytest.mark.parametrize("command", [["status"], ["scale", "--count", "3"], ["tenant", "list"]])
def test_unreachable_services_give_one_clear_line(command: list[str], tmp_path: Path) -> None:
    closed = [ports.pick(None, taken=set()) for _ in range(5)]  # free ports: nothing listens there
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "COLUMNS": "300",
        "CONSUL_HTTP_ADDR": f"http://127.0.0.1:{closed[0]}", "NOMAD_ADDR": f"http://127.0.0.1:{closed[1]}",
        "VAULT_ADDR": f"http://127.0.0.1:{closed[2]}", "VAULT_TOKEN": "not-a-real-token",
        "BOTPOOL_DATABASE_URL": f"postgresql://op:{SECRET}@127.0.0.1:{closed[3]}/botpool",
        "BOTPOOL_REDIS_URL": f"redis://127.0.0.1:{closed[4]}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "botpool_cli.main", *command, "--root", str(tmp_path / "no-stack")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "not answering" in output and "botpool up" in output
    assert "Traceback" not in output and "Unclosed client session" not in output
    assert SECRET not in output
