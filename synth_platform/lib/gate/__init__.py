"""The release gate: quality expectations, exact checks, privacy attacks, and the private (noisy) decision."""
