"""The check of the Dialogue track's exercise (docs/labs/dialogue.md, after Bryant's *Dialogue
in Four Scenes*): each of scenes 1-3's defences refusing its attack, then the attack accepted
with legacy's lab switch off.

The evidence is the service's trace: a forged authenticator counts by the very token
``orthrus-lab reuse-ticket`` sent (its activity log names it), refused or accepted with the
switch the trace labels say; an authenticator out of the skew by the time the trace decodes
from it (:meth:`labs.evidence.Evidence.authenticator_time`).
"""

from __future__ import annotations

from labs.evidence import Evidence, Step, first_of, step
from labs.tracefile import TraceEvent

__all__ = ["check_dialogue"]

#: What each forged authenticator of ``reuse-ticket`` tests, by the switch that lets it in.
_FORGED = (("own-key", "authenticator"), ("clear", "session_key"))


def _reused(ev: Evidence, authenticator: str) -> list[TraceEvent]:
    """The service events of the tokens ``reuse-ticket --authenticator`` sent."""
    tokens = {a.data.get("token") for a in ev.acts("reuse-ticket", authenticator=authenticator)}
    return [e for e in ev.at_services() if e.token is not None and e.token in tokens]


def _out_of_skew(ev: Evidence, max_skew: int) -> list[TraceEvent]:
    """Service events whose authenticator's time was more than ``max_skew`` off."""
    out = []
    for event in ev.at_services():
        client_time = ev.authenticator_time(event)
        if client_time is not None and abs(client_time - event.time) > max_skew:
            out.append(event)
    return out


def _forged_steps(ev: Evidence) -> list[Step]:
    steps = []
    for authenticator, switch in _FORGED:
        sent = _reused(ev, authenticator)
        refused = first_of([e for e in sent if not e.ok and e.labels.get(switch) == "on"])
        accepted = first_of([e for e in sent if e.ok and e.labels.get(switch) == "off"])
        flag = switch.replace("_", "-")
        command = f"orthrus-lab reuse-ticket EVENT --authenticator {authenticator}"
        steps += [
            step(
                f"a captured ticket with a {authenticator} authenticator, {flag} on: refused",
                refused,
                f"event #{refused.id}: {refused.error}" if refused else "",
                f"no such authenticator was refused by legacy with {flag} on: {command}",
            ),
            step(
                f"the same with legacy's {flag} off: accepted as the ticket's client",
                accepted,
                f"event #{accepted.id}: accepted as {accepted.client}" if accepted else "",
                f"none was accepted: orthrus-lab switch legacy {flag} off, then {command}",
            ),
        ]
    return steps


def check_dialogue(ev: Evidence) -> list[Step]:
    """Scenes 1-3 without their defences: no authenticator, no session key, no timestamp."""
    max_skew = ev.lab.store().settings.max_skew
    late = _out_of_skew(ev, max_skew)
    skewed = first_of(
        [e for e in late if e.error == "KRB_AP_ERR_SKEW" and e.labels.get("timestamp") == "on"]
    )
    believed = first_of([e for e in late if e.ok and e.labels.get("timestamp") == "off"])
    return [
        *_forged_steps(ev),
        step(
            "an authenticator out of the skew at legacy, timestamp on: KRB_AP_ERR_SKEW",
            skewed,
            f"event #{skewed.id}: KRB_AP_ERR_SKEW" if skewed else "",
            "legacy refused no authenticator as out of the skew: orthrus --clock-offset 3600 "
            "fetch the archive (after one fetch at the right time: the ticket is cached)",
        ),
        step(
            "the same with legacy's timestamp off: accepted, however old or early",
            believed,
            f"event #{believed.id}: accepted as {believed.client}" if believed else "",
            "legacy accepted no authenticator out of the skew: orthrus-lab switch legacy "
            "timestamp off, then the same fetch",
        ),
    ]
