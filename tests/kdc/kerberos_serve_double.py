"""``orthrus-kdc`` with the test double of the Kerberos exchanges connected where the real
ones will be (``kdc.server.KERBEROS_EXCHANGES``), for the end-to-end tests of
tests/kdc/test_kdc_kerberos_wire.py: ``python kerberos_serve_double.py --dir DIR serve ...``.
``serve`` forks its workers from this process, so they serve with the double too."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from krb_wire_support import answer

import kdc.server
from kdc.cli import main

kdc.server.KERBEROS_EXCHANGES = answer
main()
