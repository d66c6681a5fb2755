"""A small asyncio client for the Nomad HTTP API.

Why not python-nomad: it is synchronous and has no group scale call, and
botpool's scaler needs conditional scale calls and blocking queries inside one
event loop. The API surface botpool uses is about ten endpoints, so a typed httpx
client is smaller than an adapter around the library would be.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from botpool.errors import BotpoolError, DependencyUnavailable
from botpool.settings import NomadSettings


class NomadError(BotpoolError):
    """Nomad answered with an error; ``status`` and Nomad's own message are kept for decisions."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Nomad API error {status}: {message}")
        self.status = status
        self.message = message


class ScaleBlocked(NomadError):
    """A scale request was refused because a deployment is active; retry later (not a failure)."""


class JobChanged(NomadError):
    """A conditional scale found the job changed since it was read (someone else scaled it); read again."""


class NomadClient:
    """Async access to the handful of Nomad endpoints botpool needs."""

    def __init__(self, addr: str, *, token: str | None = None, namespace: str = "default") -> None:
        headers = {"X-Nomad-Token": token} if token else {}
        self._http = httpx.AsyncClient(base_url=addr.rstrip("/"), headers=headers, timeout=30)
        self.namespace = namespace

    @classmethod
    def from_settings(cls, settings: NomadSettings) -> NomadClient:
        """Build a client from validated settings."""
        token = settings.token.get_secret_value() if settings.token else None
        return cls(str(settings.addr), token=token, namespace=settings.namespace)

    async def aclose(self) -> None:
        """Close the underlying connection pool."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = kwargs.pop("params", {}) or {}
        params.setdefault("namespace", self.namespace)
        try:
            resp = await self._http.request(method, path, params=params, **kwargs)
        except httpx.HTTPError as exc:
            raise DependencyUnavailable(f"Nomad unreachable: {type(exc).__name__}") from None
        if resp.status_code >= 400:
            text = resp.text.strip()
            if "active deployment" in text:
                raise ScaleBlocked(resp.status_code, text)
            raise NomadError(resp.status_code, text)
        return resp

    async def parse_hcl(self, hcl: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Turn an HCL job spec (with HCL2 variables) into the JSON job the API registers."""
        # Values are literals: HCL would read "${...}" in a string as its own template, so escape it and let
        # the text through for Nomad to interpolate at run time (e.g. "${meta.consul_http_addr}" in a task's env).
        var_lines = "\n".join(
            f"{key} = {json.dumps(value).replace('${', '$${').replace('%{', '%%{')}"
            for key, value in (variables or {}).items()
        )
        resp = await self._call(
            "POST", "/v1/jobs/parse", json={"JobHCL": hcl, "Canonicalize": True, "Variables": var_lines}
        )
        job: dict[str, Any] = resp.json()
        return job

    async def register(self, job: dict[str, Any]) -> dict[str, Any]:
        """Register (create or update) a job; returns Nomad's answer with the evaluation id."""
        resp = await self._call("POST", "/v1/jobs", json={"Job": job})
        result: dict[str, Any] = resp.json()
        return result

    async def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            resp = await self._call("GET", path)
        except NomadError as exc:
            if exc.status == 404:
                return None
            raise
        result: dict[str, Any] = resp.json()
        return result

    async def job(self, job_id: str) -> dict[str, Any] | None:
        """Return a job or None if it does not exist."""
        return await self._get_or_none(f"/v1/job/{job_id}")

    async def allocation(self, alloc_id: str) -> dict[str, Any] | None:
        """Return one allocation (with its client and desired status), or None once Nomad has forgotten it."""
        return await self._get_or_none(f"/v1/allocation/{alloc_id}")

    async def scale_status(self, job_id: str, *, index: int = 0, wait: str = "") -> tuple[dict[str, Any], int]:
        """Return the job's per-group scale status and the index for a blocking follow-up."""
        params: dict[str, Any] = {}
        if index:
            params.update(index=index, wait=wait or "60s")
        resp = await self._call("GET", f"/v1/job/{job_id}/scale", params=params)
        return resp.json(), int(resp.headers.get("X-Nomad-Index", "0"))

    async def scale(
        self,
        job_id: str,
        group: str,
        count: int,
        *,
        message: str,
        meta: dict[str, Any] | None = None,
        job_modify_index: int | None = None,
    ) -> dict[str, Any]:
        """Set a group's count (``POST /v1/job/:id/scale``); raises ``ScaleBlocked`` during a deployment.

        With ``job_modify_index`` the call is a compare-and-set: Nomad applies
        the count only if the job is unchanged since that index and otherwise
        answers "Enforcing job modify index ...", raised here as ``JobChanged``.
        That is what keeps two scaler instances, an operator's override and a
        retry after a lost response from stacking two scale-ups for one shortage.
        """
        body: dict[str, Any] = {"Count": count, "Target": {"Group": group}, "Message": message, "Meta": meta or {}}
        if job_modify_index is not None:
            body["JobModifyIndex"] = job_modify_index
        try:
            resp = await self._call("POST", f"/v1/job/{job_id}/scale", json=body)
        except NomadError as exc:
            if job_modify_index is not None and "job modify index" in exc.message:
                raise JobChanged(exc.status, exc.message) from None
            raise
        result: dict[str, Any] = resp.json()
        return result

    async def allocations_blocking(
        self, job_id: str, *, index: int = 0, wait: str = "30s"
    ) -> tuple[list[dict[str, Any]], int]:
        """Return the job's allocations and the index; with ``index`` it blocks until they change."""
        params: dict[str, Any] = {"index": index, "wait": wait} if index else {}
        resp = await self._call("GET", f"/v1/job/{job_id}/allocations", params=params)
        return resp.json(), int(resp.headers.get("X-Nomad-Index", "0"))

    async def nodes(self, *, index: int = 0, wait: str = "30s") -> tuple[list[dict[str, Any]], int]:
        """Return the client nodes (drain, eligibility, status) and the index; with ``index`` it blocks on a change."""
        params: dict[str, Any] = {"index": index, "wait": wait} if index else {}
        resp = await self._call("GET", "/v1/nodes", params=params)
        return resp.json(), int(resp.headers.get("X-Nomad-Index", "0"))

    async def stop(self, job_id: str, *, purge: bool = False) -> None:
        """Stop (and optionally purge) a job."""
        await self._call("DELETE", f"/v1/job/{job_id}", params={"purge": str(purge).lower()})
