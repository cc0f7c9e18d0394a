"""Service levels: per-queue interval figures with DESIGN.md's definitions."""
