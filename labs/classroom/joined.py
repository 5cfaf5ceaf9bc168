"""A class server as a student's joined shell sees it (``orthrus-lab join`` saved its KDC's
URL, realm and CA in ``DIR/class.json`` and exported ``ORTHRUS_LAB_CLASS=DIR``).

The lab's offline guessing (``orthrus-lab crack``) then asks the class KDC, over HTTPS
checked with the class CA, for what anyone may ask: an AS reply, a service's salt. The
guessing itself happens on the student's machine and proves nothing to the class server; the
student proves a cracked password by logging in with it there (docs/labs/class.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from labs.answers import JOINED_CLASS
from labs.lab import Lab
from labs.state import LabPaths, LabState, NotALab

__all__ = ["JoinedClass"]


class JoinedClass(Lab):
    """The class KDC of a joined shell, in the shape the lab's tools use."""

    def __init__(self, root: Path, kdc_url: str, realm: str, ca_file: str) -> None:
        super().__init__(LabPaths.of(root), LabState(realm, [], []))
        self.kdc_url = kdc_url
        self.ca_file = ca_file

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> JoinedClass | None:
        """The class this shell joined, or None when it joined none."""
        directory = environ.get(JOINED_CLASS)
        if not directory:
            return None
        saved = Path(directory) / "class.json"
        try:
            data = json.loads(saved.read_text())
            return cls(
                Path(directory), str(data["kdc_url"]), str(data["realm"]), str(data["ca_file"])
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NotALab(
                f"{saved} is not what orthrus-lab join saved ({type(exc).__name__}): join the "
                "class again with: orthrus-lab join URL --ca ca.pem"
            ) from None

    def url(self, name: str) -> str:
        if name != "kdc":
            raise NotALab(
                f"the class server has no {name} for lab tools: this command is local practice "
                "(orthrus-lab up)"
            )
        return self.kdc_url
