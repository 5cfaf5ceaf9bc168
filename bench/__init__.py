"""The benchmark: Orthrus beside MIT Kerberos (make bench; docs/performance.md)."""
