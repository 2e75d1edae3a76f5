"""pytest plugin: the verdict summary printed at the end of a run (filled in by the results work)."""
