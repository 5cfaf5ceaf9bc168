"""Rich rendering of trace events and grades for the terminal."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from labs.checks import CheckResult
from labs.view import TIME_FIELDS, format_time

__all__ = ["event_line", "event_tree", "grade_table"]


def _value(name: str, value: Any) -> str:
    if name in TIME_FIELDS and isinstance(value, int | float):
        return f"{value}  ({format_time(value)})"
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(", ", ": "))
        return text if len(text) <= 160 else text[:157] + "..."
    return str(value)


def event_line(view: dict[str, Any]) -> Text:
    """``#12 08:44:25  AS   alice@LAB.TEST -> kdc   AS-REQ / AS-REP``, red when refused."""
    line = Text()
    line.append(f"#{view['id']:<4}", style="bold")
    line.append(f"{view['at'][11:19]}  ", style="dim")
    line.append(f"{view['exchange']:<4}", style="cyan")
    line.append(f"{view['client'] or '?'} -> {view['component']}  ")
    line.append(f"{view['request_label']} / ")
    if view["ok"]:
        line.append(str(view["reply_label"]), style="green")
    else:
        line.append(str(view["reply_label"]), style="bold red")
    marks = view.get("marks") or {}
    if marks.get("replay_of"):
        line.append(f"  replay of #{marks['replay_of']}", style="bold yellow")
    if marks.get("forged"):
        line.append("  forged ticket", style="bold yellow")
    switches = {k: v for k, v in (view.get("labels") or {}).items() if v == "off"}
    if switches:
        line.append(
            "  [" + ", ".join(f"{k} {v}" for k, v in switches.items()) + "]", style="yellow"
        )
    return line


def event_tree(view: dict[str, Any]) -> Tree:
    """One event with its clear fields, its error explained, and each sealed part."""
    tree = Tree(event_line(view))
    tree.add(Text(view["summary"], style="italic"))
    if view["clear"]:
        clear = tree.add(Text("in clear (anyone on the wire sees this)", style="dim"))
        for name, value in view["clear"].items():
            clear.add(f"{name}: {_value(name, value)}")
    if not view["ok"] and view.get("error"):
        error = tree.add(Text(f"{view['error']}: {view.get('message') or ''}", style="red"))
        if view.get("explanation"):
            error.add(Text(view["explanation"], style="red dim"))
    for part in view["parts"]:
        label = Text()
        label.append("🔓 " if part["opened"] else "🔒 ")
        label.append(f"{part['where']}", style="bold")
        label.append(f"  {part['part']}, usage {part['usage']} ({part['usage_name']})")
        branch = tree.add(label)
        branch.add(Text(f"sealed under the {part['key']}", style="magenta"))
        if part["opened"]:
            branch.add(Text(f"opened with {part['by']}", style="green"))
            if part.get("signed") is not None:
                style = "green" if part["signed"] else "bold red"
                branch.add(Text(f"KDC signature: {part['verdict']}", style=style))
            for name, value in (part["fields"] or {}).items():
                branch.add(f"{name}: {_value(name, value)}")
        elif view.get("decoded") and part.get("reason"):
            style = "red" if part.get("altered") else "dim"
            branch.add(Text(str(part["reason"]), style=style))
    return tree


def grade_table(results: list[CheckResult]) -> RenderableType:
    """Each exercise's steps with ✔ or ✘ and what showed it (or what is missing)."""
    blocks: list[RenderableType] = []
    for result in results:
        mark = "[green]✔ passed[/]" if result.passed else "[red]✘ not yet[/]"
        table = Table(
            title=f"Exercise {result.number}: {result.title} — {mark}",
            title_justify="left",
            show_header=False,
            box=None,
            padding=(0, 1),
        )
        table.add_column(width=2)
        table.add_column()
        for step in result.steps:
            table.add_row(
                "[green]✔[/]" if step.done else "[red]✘[/]",
                f"{step.text}\n[dim]{step.detail}[/]",
            )
        blocks.append(table)
    return Group(*blocks)
