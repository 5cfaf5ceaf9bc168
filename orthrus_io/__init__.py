"""I/O helpers shared by the edges (``kdc``, ``client_lib``, ``service_lib``, ``labs``).

The protocol core (:mod:`orthrus`) does no I/O; what the edges all need to do with files and
configuration is done once here: private files written atomically with mode 0600 and read
with ownership and permission checks, and TOML settings with environment overrides.
"""
