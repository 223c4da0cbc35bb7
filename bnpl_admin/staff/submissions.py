"""One-time form tokens: a page form carries a fresh token, and the work behind it runs once.

The token row is inserted in the same transaction as the work. A second submission of the same
token waits on the unique index until the first commits, then finds the row and is sent to the
first result; if the work fails (a form error), the transaction rolls back and the token can be
submitted again once corrected.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from bnpl_admin.staff.models import FormSubmission


def new_token() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Submitted:
    result_url: str
    replayed: bool


class InvalidToken(Exception):
    pass


def submit_once(*, token: str, user, action: str, work: Callable[[], str]) -> Submitted:
    """Run `work` (which returns the URL of its result) once per token; replays get that URL."""
    try:
        token_uuid = uuid.UUID(str(token))
    except ValueError:
        raise InvalidToken("This form has expired; please submit it again.") from None
    try:
        with transaction.atomic():
            submission = FormSubmission.objects.create(token=token_uuid, user=user, action=action)
            submission.result_url = work()
            submission.save(update_fields=["result_url"])
            return Submitted(result_url=submission.result_url, replayed=False)
    except IntegrityError:
        previous = FormSubmission.objects.filter(token=token_uuid).first()
        if previous is None:
            raise
        if previous.user_id != user.pk or previous.action != action:
            raise InvalidToken("This form has expired; please submit it again.") from None
        return Submitted(result_url=previous.result_url, replayed=True)
