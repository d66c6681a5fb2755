"""Every component dies or restarts under load, one at a time, and nothing paid, booked or served is lost.

One system runs throughout (tests/faults/conftest.py): the real pool job, two
reconcilers and two scalers, three tenants whose bots are greeted twice a
second and whose clients keep booking, and a new activation every second. Each
test injects one fault, and the rig waits until the system is back to normal
without help (every tenant answers, the claims are consistent, both roles have
a leader, there are free slots). Then: every acknowledged activation still
answers, every booking confirmed to a client is in its database, no tenant is
polled by two slots, and no claim is orphaned. The longest time a tenant's bot
did not answer is printed and written to ``fault.json`` in the test's tmp dir.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.faults import FAULTS, Rig

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_is_survived_without_an_operator(rig: Rig, fault: str, tmp_path: Path) -> None:
    report = await rig.inject(fault)
    (tmp_path / "fault.json").write_text(json.dumps(report.as_dict(), indent=2))
    print(f"\n{fault}: longest unanswered {report.longest_unanswered_s} s, recovery {report.recovery_s} s, "
          f"settled {report.settled_s} s; {report.notes}")
    assert report.unresolved == [], f"not back to normal by itself: {report.unresolved}"
    assert report.lost_activations == 0, "an acknowledged activation is no longer served"
    assert report.lost_bookings == 0, "a booking confirmed to a client is missing from the database"
    assert report.double_served == 0, "a tenant's bot was polled by two slots"
    assert report.orphan_claims == 0
