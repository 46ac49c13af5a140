"""txconsul's test suite (trial)."""
