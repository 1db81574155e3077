"""Migration scripts, oldest first by revision chain (see the package docstring)."""
