"""Orthrus labs: a lab realm on 127.0.0.1, traces of every exchange, exercises and grading.

``orthrus-lab up`` makes a realm marked ``lab = true`` in its ``kdc.toml``, with users and
two services, and starts its KDC and services; every AS, TGS and AP exchange (RFC 4120 §3)
is traced (:mod:`orthrus_io.trace`) and can be decoded with the keys a student holds
(:mod:`labs.decode`), drawn as a sequence diagram (:mod:`labs.web`), attacked
(:mod:`labs.attacks`) and graded (:mod:`labs.checks`). Exercises are ``docs/labs/NN-*.md``.
"""

__all__: list[str] = []
