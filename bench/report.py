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


def render(*, rows, info, reused, args, argv, seconds) -> str:
    command = "python bench/run.py " + " ".join(shlex.quote(a) for a in argv[1:])
    lines = [
        f"Command: `{command.strip()}` (total {seconds / 60:.1f} min)",
        "",
        f"Data set: {info.customers:,} customers, {info.plans:,} plans, {info.installments:,} installments, "
        f"{info.refunds:,} refunds; {info.debt_customers:,} customers in debt with {info.overdue_installments:,} "
        f"overdue installments at build time (built {info.anchor} in {info.build_seconds:.0f} s"
        f"{', reused' if reused else ''}).",
        "",
        f"Machine: {machine()}.",
        "",
        f"Server: gunicorn `bnpl_admin.wsgi`, {args.workers} sync workers, DEBUG=0, plain HTTP on 127.0.0.1. "
        f"wrk: 2 threads, 8 connections, 5 s warm-up, then {args.rounds} x {args.duration} s (median).",
        "",
        "| Figure | Measured | Target | Met | Notes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        met = "—" if row.met is None else ("met" if row.met else "**missed**")
        lines.append(f"| {row.name} | {row.value} | {row.target} | {met} | {row.note} |")
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
