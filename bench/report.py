"""The results table: printed, and kept in bench/RESULTS.md (one section per labelled run)."""

from __future__ import annotations

import os
import platform
import re
import shlex
import subprocess
import sys
from pathlib import Path

from django.db import connection

HEAD = "# Benchmark results\n\nWritten by `python bench/run.py` (`make bench`); each run replaces its own section.\n"


# PostgreSQL settings that change the figures (README "Deploying and scaling" gives the values used).
TUNED_SETTINGS = ("shared_buffers", "max_wal_size", "work_mem")


def machine() -> str:
    with open("/proc/meminfo") as f:
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s+:\s+(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
        settings = []
        for name in TUNED_SETTINGS:
            cursor.execute(f"SHOW {name}")
            settings.append(f"{name}={cursor.fetchone()[0]}")
    pg += f" ({', '.join(settings)})"
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()
    return (
        f"nproc {os.cpu_count()} ({cpu}), memory {mem_kb / 1024 / 1024:.1f} GiB, PostgreSQL {pg}, "
        f"Python {platform.python_version()}, {wrk[0] if wrk else 'wrk'}; load average at the end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


# The issue's ok-ceiling on its machine: this machine's scale is its own ok-ceiling over it.
ISSUE_OK_RPS = 5900
CEILING_NAMES = {"ok": "view returning ok", "pk": "one pk query as JSON", "keyset": "DRF keyset page"}


def ceiling_for(name: str) -> str | None:
    """The ceiling a read row is read against: API → DRF keyset page, debt status → pk, pages → ok."""
    if name.startswith("Page "):
        return "ok"
    if name.startswith("API ") and "POST" not in name:
        return "pk" if "/api/v1/debt/" in name else "keyset"
    return None  # writes, webhooks, overdue: no ceiling


def machine_scale(ok_rps: float) -> float:
    """This machine against the issue's: multiply a figure of the issue's machine by it."""
    return ok_rps / ISSUE_OK_RPS


def relative_to_ceilings(rows) -> list[str]:
    """Markdown lines: each read figure as a % of its ceiling, and the machine's scale.

    Empty unless the ceiling was measured in the same run (its rows are among `rows`).
    """
    ceilings = {row.extra["ceiling"]: row.extra["rps"] for row in rows if "ceiling" in row.extra}
    if not ceilings:
        return []
    lines = [""]
    if "ok" in ceilings:
        scale = machine_scale(ceilings["ok"])
        lines.append(
            f"**Scale of this machine** = ok-ceiling {ceilings['ok']:,.0f} req/s / the issue's "
            f"{ISSUE_OK_RPS:,} = **{scale:.2f}**: a req/s figure of the issue's machine x {scale:.2f} is the "
            f"same figure here (e.g. the API target 900 req/s → {900 * scale:,.0f})."
        )
    relative = []
    for row in rows:
        key = ceiling_for(row.name)
        if key in ceilings and "rps" in row.extra:
            ceiling = ceilings[key]
            relative.append(
                f"| {row.name} | {row.extra['rps']:,.0f} | **{row.extra['rps'] / ceiling:.0%}** of "
                f"{CEILING_NAMES[key]} ({ceiling:,.0f}) |"
            )
    if relative:
        lines += [
            "",
            "Read figures relative to the ceilings of this run (req/s as a share of the matching ceiling; "
            "the issue puts the API list target at 70% of its DRF ceiling):",
            "",
            "| Read figure | req/s | % of ceiling (this run) |",
            "|---|---|---|",
            *relative,
        ]
    return lines


def render(*, rows, info, reused, args, argv, seconds) -> str:
    command = "python bench/run.py " + " ".join(shlex.quote(a) for a in argv[1:])
    lines = [
        f"Command: `{command.strip()}` (total {seconds / 60:.1f} min)",
        "",
        f"Data set: {info.customers:,} customers, {info.plans:,} plans, {info.installments:,} installments, "
        f"{info.refunds:,} refunds, {info.payments:,} payments; {info.debt_customers:,} customers in debt with "
        f"{info.overdue_installments:,} overdue installments at build time (built {info.anchor} in "
        f"{info.build_seconds:.0f} s{', reused' if reused else ''}).",
        "",
        f"Machine: {machine()}.",
        "",
        f"Server: gunicorn `bnpl_admin.wsgi`, {args.workers} sync workers, DEBUG=0, plain HTTP on 127.0.0.1. "
        f"wrk: 2 threads, 8 connections, 5 s warm-up, then {args.rounds} x {args.duration} s (median)."
        + (
            " Ceiling rows: gunicorn `bench.ceiling.wsgi`, a bare Django project (no middleware, no "
            "authentication) on the same database, same workers and wrk settings."
            if any("ceiling" in row.extra for row in rows)
            else ""
        ),
        "",
        "| Figure | Measured | Target | Met | Notes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        met = "—" if row.met is None else ("met" if row.met else "**missed**")
        lines.append(f"| {row.name} | {row.value} | {row.target} | {met} | {row.note} |")
    lines += relative_to_ceilings(rows)
    return "\n".join(lines) + "\n"


def write(text: str, *, path: Path, label: str) -> None:
    """Replace this label's section (between markers) and keep every other section."""
    label = label or "latest"
    start, end = f"<!-- run:{label} -->", f"<!-- /run:{label} -->"
    section = f"{start}\n## Run: {label}\n\n{text}{end}\n"
    current = path.read_text() if path.exists() else HEAD
    if start in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n") if end in rest else ""
        current = before + section + ("\n" + after if after else "")
    else:
        current = current.rstrip("\n") + "\n\n" + section
    path.write_text(current)
    print(f"(written to {path})", file=sys.stderr)
