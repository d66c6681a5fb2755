"""Pure booking rules (availability, parsing) with no I/O, so they are tested directly."""
