"""The table of ``make bench`` and the issue's targets, from a results dictionary; and the
figures of docs/performance.md, written from a results file by the same code.

    .venv/bin/python -m bench.report                    # the page from kdc-latest.json
    .venv/bin/python -m bench.report bench/results/kdc-20261127T103813Z.json

``make bench`` (bench/run.py) writes the page's section after each run, so its figures are
always the last run's, with its date, machine and versions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT, ran
from bench.verify import render_negotiate, render_service
from scripts.doc_sections import replace_section

PAGE = ROOT / "docs" / "performance.md"


def _rate(s: dict[str, Any] | None) -> str:
    if s and "error" in s:
        return f"failed: {s['error']}"
    if not s:
        return "—"
    r = s["ops_per_s"]
    return f"{r['median']:,.0f} [{r['min']:,.0f}-{r['max']:,.0f}]"


def _lat(s: dict[str, Any] | None) -> str:
    if not (s := ran(s)):
        return "—"
    return f"{_us(s['p50_us'])} / {_us(s['p99_us'])}"


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} µs"


def _cpu(s: dict[str, Any] | None) -> str:
    if not (s := ran(s)) or not s.get("kdc_cpu_us_per_op"):
        return "—"
    return f"{s['kdc_cpu_us_per_op']['median']:.0f} µs"


def _ratio(o: dict[str, Any] | None, m: dict[str, Any] | None, key: str) -> float | None:
    if not (o := ran(o)) or not (m := ran(m)):
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


def _table(results: dict[str, Any]) -> list[str]:
    """The Markdown table of the KDC and AP loads (the terminal's and the page's)."""
    lines = [
        "| load | clients | Orthrus rate | MIT rate | rate Orthrus/MIT | Orthrus p50 / p99 "
        "| MIT p50 / p99 | Orthrus KDC CPU | MIT KDC CPU | CPU Orthrus/MIT |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows(results):
        o, mi = row["orthrus"], row.get("mit")
        lines.append(
            f"| {row['label']} | {row['clients']} | {_rate(o)} | {_rate(mi)} "
            f"| {_fmt_ratio(_ratio(o, mi, 'rate'))} | {_lat(o)} | {_lat(mi)} | {_cpu(o)} "
            f"| {_cpu(mi)} | {_fmt_ratio(_ratio(o, mi, 'cpu'))} |"
        )
    return lines


def _busy(row: dict[str, Any]) -> float:
    """The most other processes took of the machine during the row's Orthrus runs."""
    orthrus = ran(row["orthrus"])
    return float(orthrus["other_cpu_pct"]["max"]) if orthrus else 0.0


def _noisy(results: dict[str, Any]) -> str:
    """The cells measured while other processes took more than 10% of the machine."""
    noisy = [
        f"{r['label']} x{r['clients']} ({_busy(r):.0f}%)" for r in rows(results) if _busy(r) > 10
    ]
    return "Other processes used > 10% of the machine during: " + ", ".join(noisy) if noisy else ""


def render_backends(results: dict[str, Any]) -> str:
    """The SQLite/PostgreSQL row (issue 13 §3): the same Orthrus KDC on each back end."""
    b = results.get("backends")
    if not b:
        return ""
    title = "Orthrus KDC on SQLite and on PostgreSQL"
    if "error" in b:
        return f"\n{title}: failed: {b['error']}"
    if "skipped" in b:
        return f"\n{title}: not run: {b['skipped']}"
    lines = [
        "",
        f"{title} (HTTP, {b['workers']} KDC workers x 4 threads, {b['clients']} client "
        f"threads, {b['principals']} principals each), same run",
        "",
        "| load | SQLite rate | PostgreSQL rate | rate PostgreSQL/SQLite | SQLite p50 / p99 "
        "| PostgreSQL p50 / p99 |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (("as", "AS pre-auth"), ("tgs", "TGS")):
        s, p = b["sqlite"][key], b["postgresql"][key]
        lines.append(
            f"| {label} | {_rate(s)} | {_rate(p)} | {_fmt_ratio(_ratio(p, s, 'rate'))} "
            f"| {_lat(s)} | {_lat(p)} |"
        )
    lines.append("\ntarget: PostgreSQL-backed >= 0.8x SQLite-backed")
    return "\n".join(lines)


def _mark(target: dict[str, Any]) -> str:
    return "met" if target["met"] else ("MISSED" if target["met"] is not None else "not measured")


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
    ]
    lines = [*head, *_table(results)]
    if results.get("mit_missing_reason"):
        lines.append("")
        lines.append(f"MIT Kerberos not measured: {results['mit_missing_reason']}")
    if noisy := _noisy(results):
        lines += ["", noisy]
    lines += [render_service(results), render_negotiate(results), render_backends(results)]
    tg = results.get("targets")
    if tg:
        lines.append("")
        lines.append("Targets (issues 4, 7, 13, 15):")
        lines += [f"  [{_mark(t)}] {t['target']}: {t['detail']}" for t in tg]
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, for 1 and 2 clients: met, missed (by how much) or unknown."""
    out = []
    by = {(r["load"], r["clients"]): r for r in rows(results)}
    specs = [
        ("tgs", "rate", 1.0, "TGS requests/s ≥ 1.0x MIT"),
        ("tgs_udp", "rate", 1.0, "TGS requests/s over UDP, krb5bench to both, ≥ 1.0x MIT"),
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
            failures = [s["error"] for s in (row["orthrus"], row.get("mit")) if s and "error" in s]
            if ratio is None:
                met = None
                detail = f"failed: {failures[0]}" if failures else "MIT not measured"
            elif key == "rate":
                met = ratio >= bound
                detail = f"{ratio:.2f}x with {clients} client(s)"
            else:
                met = ratio <= bound
                detail = f"{ratio:.2f}x MIT's CPU per request with {clients} client(s)"
            out.append(_target(text, load, clients, ratio, met, detail))
    out += _pair_targets(results)
    svc = results.get("service")
    if svc and svc.get("ratio") is not None:
        out.append(
            _target(
                "service_demo protected endpoint ≥ 0.8x the same endpoint unprotected",
                "service",
                svc["clients"],
                svc["ratio"],
                svc["ratio"] >= 0.8,
                f"{svc['ratio']:.2f}x",
            )
        )
    return out


def _pair_target(
    load: str,
    text: str,
    bound: float,
    row: dict[str, Any],
    pair: tuple[dict[str, Any] | None, dict[str, Any] | None],
    clients: int,
) -> dict[str, Any]:
    """One target whose rate ratio is ``pair[0]/pair[1]``; "not measured", with the reason,
    when the row failed or was skipped."""
    ratio = None if "error" in row or "skipped" in row else _ratio(*pair, "rate")
    if ratio is not None:
        met: bool | None = ratio >= bound
        detail = f"{ratio:.2f}x"
    else:
        met = None
        detail = (
            f"failed: {row['error']}"
            if "error" in row
            else f"not run: {row['skipped']}"
            if "skipped" in row
            else "not measured"
        )
    return _target(text, load, clients, ratio, met, detail)


def _target(
    text: str, load: str, clients: int, ratio: float | None, met: bool | None, detail: str
) -> dict[str, Any]:
    """One row of the targets table: met (True), missed (False) or not measured (None)."""
    return {
        "target": text,
        "load": load,
        "clients": clients,
        "ratio": ratio,
        "met": met,
        "detail": detail,
    }


def _pair_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The Negotiate target (issue 15 §5) and the PostgreSQL/SQLite ones (issue 13 §3)."""
    out = []
    if row := results.get("negotiate"):
        text = "Negotiate verifications/s ≥ 1.0x MIT gss_accept_sec_context"
        out.append(
            _pair_target("negotiate", text, 1.0, row, (row.get("orthrus"), row.get("mit")), 1)
        )
    if row := results.get("backends"):
        for key, what in (("as", "AS pre-auth"), ("tgs", "TGS")):
            text = f"PostgreSQL-backed {what} ≥ 0.8x SQLite-backed"
            pair = (row.get("postgresql", {}).get(key), row.get("sqlite", {}).get(key))
            out.append(_pair_target(f"backends_{key}", text, 0.8, row, pair, row.get("clients", 1)))
    return out


def _measured(source: Path) -> tuple[Path, str]:
    """The timestamped file ``source`` is a copy of (``-latest`` is), and its date."""
    data = source.read_bytes()
    for twin in sorted(source.parent.glob(f"{source.name.split('-')[0]}-2*.json")):
        if twin.read_bytes() == data:
            source = twin
    stamp = source.stem.rsplit("-", 1)[-1]
    if not (len(stamp) == 16 and stamp[:8].isdigit()):
        return source, "date not recorded"
    return source, f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]} {stamp[9:11]}:{stamp[11:13]} UTC"


def render_page(results: dict[str, Any], source: Path) -> str:
    """docs/performance.md's section: where and when, the tables, the targets."""
    source, date = _measured(source)
    m = results.get("machine", {})
    versions = results.get("versions")
    libraries = ", ".join(f"{n} {v}" for n, v in versions.items()) if versions else ""
    busiest = max((_busy(r) for r in rows(results)), default=0.0)
    lines = [
        f"{m.get('cpus')} CPUs ({m.get('cpu_model')}), {m.get('arch', 'x86_64')}, Python "
        f"{m.get('python')}, {results.get('mit_version') or 'MIT Kerberos not measured'}; "
        f"{libraries or 'library versions not recorded'}; {results.get('date', date)}, "
        f"{results['reps']} runs x {results['secs_per_run']:g} s per cell; other processes "
        f"used at most {busiest:.0f}% of the machine during a run "
        f"(`{source.relative_to(ROOT)}`).",
        "",
        *_table(results),
    ]
    if noisy := _noisy(results):
        lines += ["", noisy]
    lines += [render_service(results), render_negotiate(results), render_backends(results)]
    lines += ["", "| target | clients | result | |", "|---|---|---|---|"]
    lines += [
        f"| {t['target']} | {t['clients']} | {t['detail']} | **{_mark(t)}** |"
        for t in results.get("targets", [])
    ]
    return "\n".join(lines)


def write_page(results: dict[str, Any], source: Path) -> None:
    """Put the figures of ``results`` (read from ``source``) into docs/performance.md."""
    replace_section(PAGE, "bench", render_page(results, source))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS / "kdc-latest.json")
    source = parser.parse_args().results.resolve()
    write_page(json.loads(source.read_text()), source)
    print(f"bench figures: {source.relative_to(ROOT)} -> {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
