"""The table of ``make bench`` and the issue's targets, from a results dictionary."""

from __future__ import annotations

from typing import Any


def _rate(s: dict[str, Any] | None) -> str:
    if not s:
        return "—"
    r = s["ops_per_s"]
    return f"{r['median']:,.0f} [{r['min']:,.0f}-{r['max']:,.0f}]"


def _lat(s: dict[str, Any] | None) -> str:
    if not s:
        return "—"
    return f"{_us(s['p50_us'])} / {_us(s['p99_us'])}"


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} µs"


def _cpu(s: dict[str, Any] | None) -> str:
    if not s or not s.get("kdc_cpu_us_per_op"):
        return "—"
    return f"{s['kdc_cpu_us_per_op']['median']:.0f} µs"


def _ratio(o: dict[str, Any] | None, m: dict[str, Any] | None, key: str) -> float | None:
    if not o or not m:
        return None
    if key == "rate":
        a, b = o["ops_per_s"]["median"], m["ops_per_s"]["median"]
    else:
        if not o.get("kdc_cpu_us_per_op") or not m.get("kdc_cpu_us_per_op"):
            return None
        a, b = o["kdc_cpu_us_per_op"]["median"], m["kdc_cpu_us_per_op"]["median"]
    return a / b if b else None


def _fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("kdc", [])) + list(results.get("ap", []))


def render_table(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    k = results.get("orthrus_kdc", {})
    head = [
        "",
        f"Orthrus vs MIT Kerberos {results.get('mit_version') or ''} — {m.get('cpus')} CPUs "
        f"({m.get('cpu_model', '')}), Python {m.get('python')}; "
        f"{results['reps']} runs x {results['secs_per_run']:g} s per cell, clients and servers "
        f"on the same cores, 127.0.0.1",
        f"Orthrus KDC: orthrus-kdc serve --workers {k.get('workers')} --threads "
        f"{k.get('threads')}; MIT: one krb5kdc process. rate = requests/s (logins/s for AS), "
        "median [min-max]; KDC CPU = KDC utime+stime per request (/proc).",
        "",
        "| load | clients | Orthrus rate | MIT rate | rate Orthrus/MIT | Orthrus p50 / p99 "
        "| MIT p50 / p99 | Orthrus KDC CPU | MIT KDC CPU | CPU Orthrus/MIT |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = list(head)
    for row in rows(results):
        o, mi = row["orthrus"], row.get("mit")
        lines.append(
            f"| {row['label']} | {row['clients']} | {_rate(o)} | {_rate(mi)} "
            f"| {_fmt_ratio(_ratio(o, mi, 'rate'))} | {_lat(o)} | {_lat(mi)} | {_cpu(o)} "
            f"| {_cpu(mi)} | {_fmt_ratio(_ratio(o, mi, 'cpu'))} |"
        )
    if results.get("mit_missing_reason"):
        lines.append("")
        lines.append(f"MIT Kerberos not measured: {results['mit_missing_reason']}")
    noisy = [
        f"{r['label']} x{r['clients']} ({r['orthrus']['other_cpu_pct']['max']:.0f}%)"
        for r in rows(results)
        if r["orthrus"]["other_cpu_pct"]["max"] > 10
    ]
    if noisy:
        lines.append("")
        lines.append("Other processes used > 10% of the machine during: " + ", ".join(noisy))
    tg = results.get("targets")
    if tg:
        lines.append("")
        lines.append("Targets (issue 7):")
        for t in tg:
            mark = "met" if t["met"] else ("MISSED" if t["met"] is not None else "not measured")
            lines.append(f"  [{mark}] {t['target']}: {t['detail']}")
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, for 1 and 2 clients: met, missed (by how much) or unknown."""
    out = []
    by = {(r["load"], r["clients"]): r for r in rows(results)}
    specs = [
        ("tgs", "rate", 1.0, "TGS requests/s ≥ 1.0x MIT"),
        ("as_preauth", "rate", 1.0, "AS pre-auth logins/s ≥ 1.0x MIT"),
        ("tgs", "cpu", 1.0, "KDC CPU per TGS request ≤ MIT's"),
        ("ap", "rate", 2.0, "in-process AP verifications/s ≥ 2x MIT krb5_rd_req"),
    ]
    for load, key, bound, text in specs:
        for clients in (1, 2):
            row = by.get((load, clients))
            if row is None:
                continue
            ratio = _ratio(row["orthrus"], row.get("mit"), key)
            if ratio is None:
                met = None
                detail = "MIT not measured"
            elif key == "rate":
                met = ratio >= bound
                detail = f"{ratio:.2f}x with {clients} client(s)"
            else:
                met = ratio <= bound
                detail = f"{ratio:.2f}x MIT's CPU per request with {clients} client(s)"
            out.append(
                {
                    "target": text,
                    "load": load,
                    "clients": clients,
                    "ratio": ratio,
                    "met": met,
                    "detail": detail,
                }
            )
    svc = results.get("service")
    if svc and svc.get("ratio") is not None:
        out.append(
            {
                "target": "service_demo protected endpoint ≥ 0.8x the same endpoint unprotected",
                "load": "service",
                "clients": svc["clients"],
                "ratio": svc["ratio"],
                "met": svc["ratio"] >= 0.8,
                "detail": f"{svc['ratio']:.2f}x",
            }
        )
    return out
