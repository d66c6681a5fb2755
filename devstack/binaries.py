"""Find or build the HashiCorp binaries (Nomad, Consul, Vault) the local stack runs.

No release binaries can be downloaded on these machines, so each product is
built from the Go module proxy by ``tools/hashicorp/build.sh`` from a pinned
tools module, and cached outside the work tree keyed by version. A binary
already on PATH is used instead when its version is at least the minimum
botpool relies on (response wrapping, blocking queries and the group scale
API have been stable for years, so the minimums are generous).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from botpool.errors import DependencyUnavailable

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO_ROOT / "tools" / "hashicorp" / "build.sh"

#: Oldest versions whose APIs botpool uses (scale endpoint, Consul service provider,
#: wrapping lookup, Nomad workload identity for Vault); older binaries on PATH are ignored and the pinned one is built.
MINIMUM: dict[str, tuple[int, int]] = {"nomad": (1, 7), "consul": (1, 16), "vault": (1, 14)}
PRODUCTS = tuple(MINIMUM)

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Binary:
    """A usable binary and where it came from, shown by ``botpool doctor`` and the tests."""

    product: str
    path: Path
    version: str
    source: str  # "env", "path" or "built"


def version_of(path: Path | str) -> str | None:
    """Return the ``x.y.z`` version a HashiCorp binary reports, or None if it does not run."""
    try:
        out = subprocess.run([str(path), "version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(out)
    return ".".join(match.groups()) if match else None


def _suitable(product: str, version: str | None) -> bool:
    if version is None:
        return False
    major, minor, _ = (int(p) for p in version.split("."))
    return (major, minor) >= MINIMUM[product]


def find(product: str) -> Binary | None:
    """Return an existing usable binary without building anything (env override, PATH, cache)."""
    override = os.environ.get(f"BOTPOOL_{product.upper()}_BIN")
    if override:
        version = version_of(override)
        if not _suitable(product, version):
            raise DependencyUnavailable(
                f"BOTPOOL_{product.upper()}_BIN={override} does not run or is older than "
                f"{'.'.join(map(str, MINIMUM[product]))}"
            )
        assert version is not None
        return Binary(product, Path(override), version, "env")
    on_path = shutil.which(product)
    if on_path:
        version = version_of(on_path)
        if version and _suitable(product, version):
            return Binary(product, Path(on_path), version, "path")
    cached = _cached_path(product)
    if cached is not None and cached.exists():
        version = version_of(cached)
        if version:
            return Binary(product, cached, version, "built")
    return None


def _cached_path(product: str) -> Path | None:
    """Ask the build script where the pinned binary lives, without building (dry run)."""
    cache = Path(os.environ.get("BOTPOOL_CACHE", Path.home() / ".cache" / "botpool")) / "bin"
    if not cache.is_dir():
        return None
    candidates = sorted(cache.glob(f"{product}-*/{product}"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def ensure(product: str) -> Binary:
    """Return a usable binary, building the pinned version first if none exists."""
    found = find(product)
    if found is not None:
        return found
    if shutil.which("go") is None:
        raise DependencyUnavailable(
            f"{product} is not installed and Go is missing to build it: install Go 1.25+ "
            "(https://go.dev/doc/install or apt-get install golang-go) and run `make binaries`"
        )
    result = subprocess.run(["bash", str(BUILD_SCRIPT), product], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise DependencyUnavailable(f"building {product} failed:\n{tail}")
    path = Path(result.stdout.strip().splitlines()[-1])
    version = version_of(path)
    if version is None:
        raise DependencyUnavailable(f"built {product} at {path} but it does not run")
    return Binary(product, path, version, "built")


def main() -> None:
    """``python -m devstack.binaries``: make sure all three binaries exist, building what is missing."""
    import time

    for product in PRODUCTS:
        started = time.monotonic()
        binary = ensure(product)
        took = time.monotonic() - started
        print(f"{product:<7} {binary.version:<8} {binary.source:<6} {binary.path}  ({took:.0f} s)")


if __name__ == "__main__":
    main()
