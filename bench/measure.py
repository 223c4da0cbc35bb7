"""The measurements: the ceiling (Django alone), overdue checker vs a per-row loop, reads and writes with wrk,
webhook drain."""

from __future__ import annotations

import datetime
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.db import connection, transaction
from django.db.models import Count

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
OUT = ROOT / "bench" / "out"
HOST, PORT = "127.0.0.1", 8765
BASE = f"http://{HOST}:{PORT}"
WRK_THREADS, WRK_CONNECTIONS, WARMUP = 2, 8, 5
SESSIONS = 16


@dataclass
class Row:
    """One line of the results table."""

    name: str
    value: str
    target: str
    met: bool | None  # None: informational
    note: str = ""
    extra: dict = field(default_factory=dict)


def log(message: str) -> None:
    print(f">> {message}", file=sys.stderr, flush=True)


# Overdue checker


class QueryCounter:
    """Counts queries with an execute wrapper: no per-query bookkeeping that would skew timings."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class Rollback(Exception):
    pass


def _as_of_for(flips: int) -> tuple[datetime.date, int]:
    """The first as-of date at which at least `flips` UPCOMING installments are late (past due by
    more than the grace days of rule 10)."""
    from django.conf import settings

    grace = datetime.timedelta(days=settings.OVERDUE_GRACE_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT due_date, count(*) FROM plans_installment WHERE status = 'UPCOMING' GROUP BY due_date ORDER BY 1"
        )
        total = 0
        for due, n in cursor.fetchall():
            total += n
            if total >= flips:
                return due + datetime.timedelta(days=1) + grace, total
    raise RuntimeError("not enough UPCOMING installments for the overdue benchmark")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a local process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_overdue(info) -> list[Row]:
    from bnpl_admin.audit.services import Actor
    from bnpl_admin.customers.models import Customer
    from bnpl_admin.plans.models import Installment
    from bnpl_admin.plans.services import check_overdue

    wanted = max(1, info.customers // 10)
    as_of, to_flip = _as_of_for(wanted)
    log(f"overdue: as-of {as_of} makes {to_flip:,} UPCOMING installments past due")

    counter = QueryCounter()
    backend = _backend_pid()
    try:
        with transaction.atomic(), connection.execute_wrapper(counter):
            started = time.perf_counter()
            cpu_started = time.process_time() + _cpu_seconds(backend)
            result = check_overdue(as_of=as_of, actor=Actor.system("bench"))
            set_seconds = time.perf_counter() - started
            set_cpu = time.process_time() + _cpu_seconds(backend) - cpu_started
            raise Rollback
    except Rollback:
        pass
    set_queries = counter.count
    log(
        f"overdue: set-based {set_seconds:.2f} s ({set_cpu:.2f} s CPU), {set_queries} queries, "
        f"{result.installments_marked_overdue:,} installments, {result.customers_marked_debt:,} customers"
    )

    # The obvious implementation, on a slice of the same size, rolled back as well.
    slice_size = result.installments_marked_overdue
    counter = QueryCounter()
    try:
        with transaction.atomic(), connection.execute_wrapper(counter):
            started = time.perf_counter()
            installments = Installment.objects.filter(status=Installment.Status.UPCOMING, due_date__lt=as_of).order_by(
                "id"
            )[:slice_size]
            done = 0
            for installment in installments.iterator(chunk_size=2000):
                installment.status = Installment.Status.OVERDUE
                installment.save()
                customer = Customer.objects.get(pk=installment.customer_id)
                customer.status = Customer.Status.DEBT_USER
                customer.save()
                done += 1
                if done % 20_000 == 0:
                    log(f"overdue: per-row loop {done:,}/{slice_size:,} ({time.perf_counter() - started:.0f} s)")
            loop_seconds = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    loop_queries = counter.count
    ratio = loop_seconds / set_seconds
    # Both runs were rolled back, leaving ~200k dead row versions behind (20% of the customers:
    # autovacuum's own threshold). Vacuum now, as autovacuum would, so the reads that follow see
    # the table as a server does after its checker ran, not mid-cleanup.
    with connection.cursor() as cursor:
        for table in ("customers_customer", "plans_installment", "audit_auditevent"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    log(f"overdue: per-row loop {loop_seconds:.1f} s, {loop_queries:,} queries; ratio {ratio:.0f}x")
    return [
        Row(
            "Overdue checker (set-based), time",
            f"{set_seconds:.2f} s",
            "≤ 2 s",
            set_seconds <= 2,
            f"{result.installments_marked_overdue:,} installments → OVERDUE, {result.customers_marked_debt:,} "
            f"customers → DEBT_USER (as-of {as_of}, rolled back)",
        ),
        Row(
            "Overdue checker (set-based), CPU time",
            f"{set_cpu:.2f} s",
            "—",
            None,
            "this process and its PostgreSQL backend: what the time would be without other work on the machine",
        ),
        Row("Overdue checker (set-based), queries", str(set_queries), "constant", None, "same count at any size"),
        Row(
            "Per-row ORM loop, same slice",
            f"{loop_seconds:.1f} s",
            "—",
            None,
            f"{done:,} installments, {loop_queries:,} queries (rolled back)",
        ),
        Row("Speed-up, set-based vs per-row", f"{ratio:.0f}x", "≥ 100x", ratio >= 100),
    ]


# The web server


class Server:
    """gunicorn with `workers` sync workers on HOST:PORT; by default the application.

    `app` and `settings` start another WSGI module the same way (the ceiling project); `ready`
    is the path polled until the server answers.
    """

    def __init__(self, workers: int, *, app: str = "bnpl_admin.wsgi", settings: str = "", ready: str = ""):
        self.workers = workers
        self.app = app
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings} if settings else os.environ
        self.ready = ready or "/api/v1/health/"
        self.proc = None

    def __enter__(self):
        try:
            requests.get(f"{BASE}/", timeout=2)
        except requests.ConnectionError:
            pass
        else:
            raise RuntimeError(f"something already listens on {BASE}: stop it first")
        if self.app == "bnpl_admin.wsgi":
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                cwd=ROOT,
                check=True,
                env=os.environ,
            )
        self.log = open(OUT / "gunicorn.log", "a")
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                self.app,
                "--workers",
                str(self.workers),
                "--bind",
                f"{HOST}:{PORT}",
                "--log-level",
                "warning",
                "--backlog",
                "2048",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        for _ in range(300):
            try:
                if requests.get(f"{BASE}{self.ready}", timeout=10).status_code in (200, 503):
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not start; see bench/out/gunicorn.log")

    def __exit__(self, *exc):
        # Graceful: requests in flight finish (a quick shutdown could cut a webhook request between
        # storing its event and queueing its task, leaving it to the sweeper minutes later).
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def login(username: str, password: str) -> str:
    """The cookies a browser signed in as `username` sends with every request: its session and its
    CSRF cookie, as `Cookie` header text (they are Secure under DEBUG=0: carried by hand over HTTP).
    Without the CSRF cookie each page would make and set a new one, which no browser asks for."""
    page = requests.get(f"{BASE}/accounts/login/", timeout=10)
    csrf = page.cookies["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = requests.post(
        f"{BASE}/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Cookie": f"csrftoken={csrf}", "Referer": f"{BASE}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    if answer.status_code != 302 or "sessionid" not in answer.cookies:
        raise RuntimeError(f"login as {username} failed: {answer.status_code}")
    # Signing in rotates the CSRF secret: the answer sets the cookie the browser keeps from then on.
    return f"sessionid={answer.cookies['sessionid']}; csrftoken={answer.cookies.get('csrftoken', csrf)}"


def api_token(username: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "issue_api_token", username],
        cwd=ROOT,
        env=os.environ,
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    return out.strip().splitlines()[-1]


# wrk


@dataclass
class WrkResult:
    rps: float
    ok_rps: float
    p50: float
    p90: float
    p99: float
    requests: int
    ok: int
    errors: int
    first_error: str = ""
    load: float = 0.0  # 1-minute load average when the round ended (other work on the machine)


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, *, headers: dict, duration: int, script: str = "get.lua", env: dict | None = None) -> WrkResult:
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency", "-s", str(LUA / script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*cmd, url],
        check=True,
        text=True,
        capture_output=True,
        env={**os.environ, "BENCH_LUA_DIR": str(LUA), "BENCH_THREADS": str(WRK_THREADS), **(env or {})},
    ).stdout
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    ok, errors = map(int, re.search(r"BENCH ok=(\d+) errors=(\d+)", out).groups())
    # Requests without any answer (time-outs, resets) never reach the Lua hook: count them too.
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket:
        errors += sum(map(int, socket.groups()))
    first = re.search(r"BENCH first_error=(.*)", out)
    seconds = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        ok_rps=ok / seconds,
        p50=_ms(latency["50"]),
        p90=_ms(latency["90"]),
        p99=_ms(latency["99"]),
        requests=total,
        ok=ok,
        errors=errors,
        first_error=first.group(1) if first else "",
        load=os.getloadavg()[0],
    )


def median_of(results: list[WrkResult]) -> WrkResult:
    """Median of each figure over the rounds; errors are summed (every failed request counts)."""
    med = statistics.median
    return WrkResult(
        rps=med(r.rps for r in results),
        ok_rps=med(r.ok_rps for r in results),
        p50=med(r.p50 for r in results),
        p90=med(r.p90 for r in results),
        p99=med(r.p99 for r in results),
        requests=sum(r.requests for r in results),
        ok=sum(r.ok for r in results),
        errors=sum(r.errors for r in results),
        first_error=next((r.first_error for r in results if r.first_error), ""),
        load=med(r.load for r in results),
    )


def _row(name: str, r: WrkResult, *, min_rps: float, max_p99: float, extra_note: str = "", ok_only=False) -> Row:
    rps = r.ok_rps if ok_only else r.rps
    met = rps >= min_rps and r.p99 <= max_p99 and r.errors == 0
    note = f"p50 {r.p50:.1f} ms, p90 {r.p90:.1f} ms; {r.errors} errors of {r.requests:,}; load {r.load:.1f}"
    if r.first_error:
        note += f" (first: {r.first_error[:80]})"
    if extra_note:
        note += f"; {extra_note}"
    return Row(
        name,
        f"{rps:,.0f} req/s, p99 {r.p99:.1f} ms",
        f"≥ {min_rps:,.0f} req/s, p99 ≤ {max_p99:.0f} ms",
        met,
        note,
        extra={"rps": rps, "p50": r.p50, "p90": r.p90, "p99": r.p99, "errors": r.errors},
    )


def _sample_customer(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def measure_reads(*, rounds: int, duration: int, workers: int, match: str = "") -> list[Row]:
    from bnpl_admin.customers.models import Customer
    from bnpl_admin.customers.selectors import phone_lookup_hash

    overdue_id = _sample_customer(
        "SELECT c.customer_id FROM customers_customer c WHERE c.status = 'DEBT_USER' "
        "ORDER BY c.id OFFSET (SELECT count(*) / 2 FROM customers_customer WHERE status = 'DEBT_USER') / 2 LIMIT 1"
    )
    # A phone number as an agent would type it: the demo data derives it from the customer number.
    number = int(overdue_id.split("-")[1])
    phone = f"+998{['90', '91', '93', '94', '95', '97', '98', '99', '33', '88'][number % 10]}"
    phone += f"{(number * 7919 + 1234567) % 10_000_000:07d}"
    ph = phone_lookup_hash(phone)
    assert Customer.objects.filter(phone_hash=ph, customer_id=overdue_id).exists(), "phone lookup does not match"

    # The key just before page 2000 (rows 39,981-40,000): the same page reached by keyset.
    deep_after = _sample_customer(
        "SELECT customer_id FROM customers_customer ORDER BY customer_id "
        "OFFSET LEAST(39979, (SELECT count(*) - 21 FROM customers_customer)) LIMIT 1"
    )

    rows = []
    with Server(workers):
        token = api_token("risk")
        # Sessions are saved on every request: one per simulated agent, not one row for all.
        support = [login("support", "support-demo") for _ in range(SESSIONS)]
        risk = [login("risk", "risk-demo") for _ in range(SESSIONS)]
        api = {"Authorization": f"Bearer {token}"}
        page = {"Cookie": support[0], "X-Bench-Sessions": ",".join(support)}
        risk_page = {"Cookie": risk[0], "X-Bench-Sessions": ",".join(risk)}
        scenarios = [
            ("API GET /api/v1/users/ (page 1)", "/api/v1/users/", api, 900, 15),
            ("API GET /api/v1/users/?page=2000", "/api/v1/users/?page=2000", api, 900, 15),
            ("API users ?after=<key> (keyset, page 2000)", f"/api/v1/users/?after={deep_after}", api, 900, 15),
            (f"API GET /api/v1/debt/{overdue_id}/", f"/api/v1/debt/{overdue_id}/", api, 800, 15),
            ("Page /customers/ by status, sorted", "/customers/?status=DEBT_USER&sort=-created_at", page, 500, 20),
            ("Page /customers/ by the most outstanding", "/customers/?sort=-outstanding", page, 500, 20),
            ("Page /customers/?ph=<hash> (exact phone)", f"/customers/?ph={ph}", page, 500, 20),
            (f"Page /customers/{overdue_id}/ (profile)", f"/customers/{overdue_id}/", page, 500, 20),
            ("Page /risk/ (risk user)", "/risk/", risk_page, 500, 20),
            ("Page /collections/ (risk user, the queue)", "/collections/", risk_page, 350, 30),
            ("Page /health/ panels (HX-Request)", "/health/", {**page, "HX-Request": "true"}, 500, 20),
        ]
        for name, path, headers, min_rps, max_p99 in scenarios:
            if match not in name:
                continue
            headers = dict(headers)
            env = {"BENCH_SESSIONS": headers.pop("X-Bench-Sessions", "")}
            check = requests.get(BASE + path, headers=headers, timeout=30, allow_redirects=False)
            if check.status_code != 200:
                rows.append(Row(name, f"HTTP {check.status_code}", "200", False, check.text[:120]))
                continue
            wrk(BASE + path, headers=headers, duration=WARMUP, env=env)
            results = [wrk(BASE + path, headers=headers, duration=duration, env=env) for _ in range(rounds)]
            r = median_of(results)
            log(f"{name}: {r.rps:,.0f} req/s p50 {r.p50:.1f} p90 {r.p90:.1f} p99 {r.p99:.1f} ms, {r.errors} errors")
            rows.append(_row(name, r, min_rps=min_rps, max_p99=max_p99))
    return rows


# The ceiling: Django alone, same server and wrk settings

# (key, row name, path, the issue's figures on its machine: req/s, p99 ms)
CEILINGS = [
    ("ok", "Ceiling: view returning ok", "/ok", 5900, 2.6),
    ("pk", "Ceiling: one pk query as JSON", "/pk/{pk}", 2700, 4.0),
    ("keyset", "Ceiling: DRF keyset page of 20 rows", "/keyset?after={after}", 1240, 9.7),
]


def measure_ceiling(*, rounds: int, duration: int, workers: int) -> list[Row]:
    """The three reference figures of the issue, measured here: bench/ceiling, not the application."""
    pk = _sample_customer(
        "SELECT id FROM customers_customer ORDER BY id OFFSET (SELECT count(*) / 2 FROM customers_customer) LIMIT 1"
    )
    # The same deep key as the keyset read scenario (rows 39,981-40,000).
    after = _sample_customer(
        "SELECT customer_id FROM customers_customer ORDER BY customer_id "
        "OFFSET LEAST(39979, (SELECT count(*) - 21 FROM customers_customer)) LIMIT 1"
    )
    rows = []
    with Server(workers, app="bench.ceiling.wsgi", settings="bench.ceiling.settings", ready="/ok"):
        for key, name, path, issue_rps, issue_p99 in CEILINGS:
            path = path.format(pk=pk, after=after)
            check = requests.get(BASE + path, timeout=30, allow_redirects=False)
            if check.status_code != 200:
                rows.append(Row(name, f"HTTP {check.status_code}", "200", False, check.text[:120]))
                continue
            wrk(BASE + path, headers={}, duration=WARMUP)
            r = median_of([wrk(BASE + path, headers={}, duration=duration) for _ in range(rounds)])
            log(f"{name}: {r.rps:,.0f} req/s p50 {r.p50:.1f} p90 {r.p90:.1f} p99 {r.p99:.1f} ms, {r.errors} errors")
            row = _row(name, r, min_rps=0, max_p99=float("inf"), extra_note=f"GET {path}")
            row.target = f"issue's machine: {issue_rps:,} req/s, p99 {issue_p99} ms"
            row.met = None  # a reference, not a target
            row.extra.update(ceiling=key, issue_rps=issue_rps, issue_p99=issue_p99)
            rows.append(row)
    return rows


# Writes


def _lines_file(lines: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", dir=OUT, suffix=".lines", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    return handle.name


def _post_rounds(name, lines_for_round, headers, *, rounds, duration, min_rps, max_p99) -> Row:
    results = []
    for round_number in range(rounds + 1):  # round 0 is the warm-up
        lines = lines_for_round()
        path = _lines_file(lines)
        r = wrk(
            BASE + "/",
            headers=headers,
            duration=WARMUP if round_number == 0 else duration,
            script="post_lines.lua",
            env={"BENCH_LINES": path},
        )
        os.unlink(path)
        if r.requests > len(lines):
            log(f"{name}: {r.requests} requests > {len(lines)} prepared lines: some repeated")
        if round_number:
            results.append(r)
    r = median_of(results)
    log(f"{name}: {r.ok_rps:,.0f} ok/s p99 {r.p99:.1f} ms, {r.errors} errors")
    return _row(name, r, min_rps=min_rps, max_p99=max_p99, ok_only=True)


PAYMENT_AMOUNT = "1.00"


def measure_writes(*, rounds: int, duration: int, workers: int) -> list[Row]:
    per_round = 2500 * (duration + 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id FROM customers_customer WHERE status = 'NORMAL' ORDER BY random() LIMIT %s",
            [per_round * (rounds + 1)],
        )
        normal = [row[0] for row in cursor.fetchall()]
        # Payments: customers owing something (an open installment on an ACTIVE plan), one per
        # request; a small amount, so every payment is accepted and allocated (DESIGN rule 6).
        cursor.execute(
            "SELECT c.customer_id FROM customers_customer c WHERE EXISTS (SELECT 1 FROM plans_installment i "
            "JOIN plans_plan p ON p.id = i.plan_id WHERE i.customer_id = c.id AND i.status IN ('UPCOMING', "
            "'OVERDUE') AND i.amount_remaining >= %s AND p.status = 'ACTIVE') ORDER BY random() LIMIT %s",
            [PAYMENT_AMOUNT, per_round * (rounds + 1)],
        )
        owing = [row[0] for row in cursor.fetchall()]
    pool = iter(normal)
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def plan_lines():
        lines = []
        for customer_id in pool:
            body = json.dumps({"user_id": customer_id, "total_amount": "1200.00", "installment_count": 3})
            lines.append(f"/api/v1/plans/\t{body}\tContent-Type: application/json")
            if len(lines) == per_round:
                break
        return lines

    def refund_lines():
        lines = []
        for _ in range(per_round):
            n = next(counter)
            body = json.dumps(
                {"user_id": normal[n % len(normal)], "transaction_id": f"bench-{run}-{n}", "amount": "10.00"}
            )
            lines.append(f"/api/v1/refunds/\t{body}\tContent-Type: application/json")
        return lines

    def payment_lines():
        lines = []
        for _ in range(per_round):
            n = next(counter)
            body = json.dumps(
                {
                    "user_id": owing[n % len(owing)],
                    "amount": PAYMENT_AMOUNT,
                    "reference": f"bench-pay-{run}-{n}",
                    "method": "card",
                }
            )
            lines.append(f"/api/v1/payments/\t{body}\tContent-Type: application/json")
        return lines

    rows = []
    with Server(workers):
        headers = {"Authorization": f"Bearer {api_token('support')}"}
        rows.append(
            _post_rounds(
                "API POST /api/v1/plans/ (a new customer each)",
                plan_lines,
                headers,
                rounds=rounds,
                duration=duration,
                min_rps=250,
                max_p99=50,
            )
        )
        rows.append(
            _post_rounds(
                "API POST /api/v1/refunds/ (a new transaction id each)",
                refund_lines,
                headers,
                rounds=rounds,
                duration=duration,
                min_rps=250,
                max_p99=50,
            )
        )
        rows.append(
            _post_rounds(
                "API POST /api/v1/payments/ (a customer owing, a new reference each)",
                payment_lines,
                headers,
                rounds=rounds,
                duration=duration,
                min_rps=250,
                max_p99=50,
            )
        )
    if len(owing) < per_round * (rounds + 1):
        log(f"payments: only {len(owing):,} customers owing: some were paid by more than one request")
    return rows


def measure_webhooks(*, rounds: int, duration: int, workers: int) -> list[Row]:
    from django_q.conf import Conf

    from bench.dataset import BENCH_MERCHANT
    from bnpl_admin.refunds.models import Refund
    from bnpl_admin.webhooks.models import Merchant, WebhookEvent
    from bnpl_admin.webhooks.services import merchant_secret
    from bnpl_admin.webhooks.signing import signed_request

    merchant = Merchant.objects.get(code=BENCH_MERCHANT)
    secret = merchant_secret(merchant)
    refunds = list(Refund.objects.order_by("?").values_list("transaction_id", flat=True)[:50_000])
    statuses = ["approved", "rejected", "processing", "failed"]
    per_round = 2000 * (duration + 1)
    rng = random.Random(7)
    since = datetime.datetime.now(datetime.UTC)

    def webhook_lines():
        lines = []
        for _ in range(per_round):
            payload = {
                "refund_id": rng.choice(refunds),
                "status": rng.choice(statuses),
                "merchant_reference": "MR-BENCH",
            }
            body, hdrs = signed_request(secret=secret, merchant_code=merchant.code, payload=payload)
            header_text = "|".join(f"{name}: {value}" for name, value in hdrs.items())
            lines.append(f"/webhook/refund-status/\t{body.decode()}\t{header_text}")
        return lines

    with Server(workers):
        row = _post_rounds(
            "Webhook POST /webhook/refund-status/ (signed, unique ids)",
            webhook_lines,
            {},
            rounds=rounds,
            duration=duration,
            min_rps=400,
            max_p99=50,
        )
    events = WebhookEvent.objects.filter(merchant=merchant, received_at__gte=since)
    backlog = events.filter(status=WebhookEvent.Status.RECEIVED).count()
    total = events.count()
    log(f"webhooks: {total:,} events stored, {backlog:,} waiting; starting qcluster")
    qlog = open(OUT / "qcluster.log", "a")  # noqa: SIM115 - closed after the cluster stops
    started = time.perf_counter()
    q = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=os.environ,
        stdout=qlog,
        stderr=qlog,
        start_new_session=True,
    )
    try:
        while events.filter(status=WebhookEvent.Status.RECEIVED).exists():
            if time.perf_counter() - started > 900:
                break
            time.sleep(0.5)
        drain = time.perf_counter() - started
    finally:
        os.killpg(q.pid, signal.SIGTERM)  # django-q2 stops its workers and scheduler gracefully
        try:
            q.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(q.pid, signal.SIGKILL)
            q.wait()
        qlog.close()
    left = events.filter(status=WebhookEvent.Status.RECEIVED).count()
    by_status = dict(events.order_by().values_list("status").annotate(n=Count("id")))
    once = events.filter(status__in=["PROCESSED", "IGNORED", "UNMATCHED"], attempts=1).count()
    exact = once == total and left == 0
    log(f"webhooks: drained {backlog:,} in {drain:.1f} s; statuses {by_status}; exactly once {once:,}/{total:,}")
    return [
        row,
        Row(
            "qcluster drains the webhook backlog",
            f"{drain:.1f} s for {backlog:,} events ({backlog / drain:,.0f}/s)",
            "drains",
            left == 0,
            f"{Conf.WORKERS} workers (Q_WORKERS); timer starts with `manage.py qcluster`",
        ),
        Row(
            "Every event processed exactly once",
            f"{once:,} / {total:,}",
            "all, attempts = 1",
            exact,
            ", ".join(f"{k} {v:,}" for k, v in sorted(by_status.items())),
        ),
    ]


# CSV exports: whole filtered tables streamed through the running server

GUNICORN_TIMEOUT = 30  # gunicorn's default worker timeout, which the Server keeps: a longer request is killed


def _worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _PeakRss:
    """The largest resident memory any gunicorn worker reaches while it runs, sampled every 20 ms."""

    def __init__(self, master: int):
        self.pids = _worker_pids(master)
        self.before = max(_rss_mb(pid) for pid in self.pids)
        self.peak = self.before
        self._stop = False

    def __enter__(self):
        import threading

        def sample():
            while not self._stop:
                self.peak = max(self.peak, *(_rss_mb(pid) for pid in self.pids))
                time.sleep(0.02)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()


def measure_exports(*, workers: int) -> list[Row]:
    """Each export downloaded once through gunicorn (one at a time): every row arrives, within the
    worker timeout, and a worker's memory stays flat whatever the number of rows."""
    from bnpl_admin.audit.models import AuditEvent
    from bnpl_admin.customers.models import Customer

    debt = Customer.objects.filter(status=Customer.Status.DEBT_USER)
    # (name, path, the rows expected, counted after the download: the audit trail holds the
    # export's own event, written as it starts; nothing else writes meanwhile)
    scenarios = [
        ("Export /risk/ (every debt user)", "/risk/?_export=csv", debt.count),
        ("Export /customers/?status=DEBT_USER", "/customers/?status=DEBT_USER&_export=csv", debt.count),
        ("Export /audit/ (the whole trail)", "/audit/?_export=csv", AuditEvent.objects.count),
        ("Export /customers/ (every customer)", "/customers/?_export=csv", Customer.objects.count),
    ]
    rows = []
    with Server(workers) as server:
        cookie = login("risk", "risk-demo")
        for name, path, count in scenarios:
            started = time.perf_counter()
            first_byte = lines = size = 0
            status = 0
            with _PeakRss(server.proc.pid) as memory:
                try:
                    with requests.get(BASE + path, headers={"Cookie": cookie}, stream=True, timeout=120) as answer:
                        status = answer.status_code
                        for chunk in answer.iter_content(chunk_size=256 * 1024):
                            first_byte = first_byte or time.perf_counter() - started
                            lines += chunk.count(b"\n")  # a chunk may end between "\r" and "\n"
                            size += len(chunk)
                except requests.RequestException as exc:  # a worker killed mid-file cuts it short
                    log(f"{name}: {exc!r}")
            seconds = time.perf_counter() - started
            expected = count()
            exported = max(lines - 1, 0)  # without the header (no exported value holds a line break)
            growth = memory.peak - memory.before
            met = status == 200 and exported == expected and seconds < GUNICORN_TIMEOUT and growth < 50
            log(f"{name}: HTTP {status}, {exported:,} of {expected:,} rows in {seconds:.1f} s, +{growth:.0f} MB")
            rows.append(
                Row(
                    name,
                    f"{exported:,} rows in {seconds:.1f} s ({exported / seconds:,.0f} rows/s)",
                    f"all {expected:,} rows, < {GUNICORN_TIMEOUT} s (worker timeout), worker memory + < 50 MB",
                    met,
                    f"HTTP {status}; {size / 1e6:,.1f} MB; first byte {first_byte:.2f} s; "
                    f"worker memory {memory.before:.0f} -> {memory.peak:.0f} MB",
                    extra={"rows": exported, "seconds": seconds, "rss_growth_mb": growth},
                )
            )
    return rows


def run_all(*, only, info, args) -> list[Row]:
    """Every requested measurement; one that fails becomes a missed row and the others still run."""
    OUT.mkdir(exist_ok=True)
    steps = {
        "ceiling": lambda: measure_ceiling(rounds=args.rounds, duration=args.duration, workers=args.workers),
        "overdue": lambda: measure_overdue(info),
        "reads": lambda: measure_reads(
            rounds=args.rounds, duration=args.duration, workers=args.workers, match=args.match
        ),
        "writes": lambda: measure_writes(rounds=args.rounds, duration=args.duration, workers=args.workers),
        # One round: every event of it must then be drained by qcluster.
        "webhooks": lambda: measure_webhooks(rounds=1, duration=args.duration, workers=args.workers),
        "exports": lambda: measure_exports(workers=args.workers),
    }
    rows = []
    for name in only:
        try:
            rows += steps[name]()
        except Exception as exc:  # reported in the table, not hidden
            log(f"{name} failed: {exc!r}")
            rows.append(Row(f"{name}: measurement failed", type(exc).__name__, "runs", False, str(exc)[:160]))
    return rows
