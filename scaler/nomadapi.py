"""The two Nomad calls the scaler needs beyond the shared client: a conditional scale and one allocation.

``POST /v1/job/:id/scale`` accepts a ``JobModifyIndex``: Nomad applies the new
count only if the job has not changed since that index (it answers "Enforcing
job modify index ..." otherwise). That turns every scale request into a
compare-and-set on the group's count, which is what keeps two scaler
instances, a manual override and the scaler's own retries from ever stacking
two scale-ups for one shortage or pushing the group past its cap.
"""

from __future__ import annotations

from typing import Any

from botpool.clients.nomad import NomadClient, NomadError


class JobChanged(NomadError):
    """The job changed since it was read (someone else scaled or re-registered it); read again and re-decide."""


class PoolNomad(NomadClient):
    """The shared async Nomad client plus a compare-and-set scale and a single-allocation read."""

    async def scale_if_unchanged(
        self,
        job_id: str,
        group: str,
        count: int,
        *,
        job_modify_index: int,
        message: str,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Set the group's count only if the job is still at ``job_modify_index``; raises ``JobChanged`` if not.

        ``ScaleBlocked`` (an active deployment) and ``DependencyUnavailable``
        propagate unchanged so the caller can back off and retry.
        """
        body = {
            "Count": count,
            "Target": {"Group": group},
            "Message": message,
            "Meta": meta or {},
            "JobModifyIndex": job_modify_index,
        }
        try:
            resp = await self._call("POST", f"/v1/job/{job_id}/scale", json=body)
        except NomadError as exc:
            if "job modify index" in exc.message:
                raise JobChanged(exc.status, exc.message) from None
            raise
        result: dict[str, Any] = resp.json()
        return result

    async def allocation(self, alloc_id: str) -> dict[str, Any] | None:
        """Return one allocation (with its DesiredStatus), or None once Nomad has forgotten it."""
        try:
            resp = await self._call("GET", f"/v1/allocation/{alloc_id}")
        except NomadError as exc:
            if exc.status == 404:
                return None
            raise
        result: dict[str, Any] = resp.json()
        return result
