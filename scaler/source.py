"""The scaler's view of the pool, which now lives in ``botpool.pool.reading``.

It moved to the shared package so the operator bot's ``/pool`` and ``/scale`` read exactly the numbers
the scaler decides on, without importing the scaler; this module keeps the scaler's own imports working.
"""

from __future__ import annotations

from botpool.pool.reading import BUSY_MODES, ClaimView, PoolReading, PoolSource, SlotView

__all__ = ["BUSY_MODES", "ClaimView", "PoolReading", "PoolSource", "SlotView"]
