"""Running calls at the same moment in threads, for the concurrency tests (PostgreSQL)."""

import threading
from collections.abc import Callable

from django.db import connection


def run_together(*calls: Callable[[], object], timeout: float = 30) -> list[object]:
    """Run the calls in threads released at once by a barrier; each result is the return value
    or the exception. Every thread closes its own database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    return results
