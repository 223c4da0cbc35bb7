class RefundError(Exception):
    """Base class of the refund domain's refusals."""


class InvalidRefund(RefundError):
    pass


class RefundConflict(RefundError):
    """The transaction id is already used by a refund with another customer or amount."""

    def __init__(self, transaction_id: str):
        super().__init__(f"Transaction {transaction_id} was already refunded with a different user or amount")
        self.transaction_id = transaction_id


class RefundLimitExceeded(RefundError):
    pass


class RefundNotFound(RefundError):
    pass


class IllegalTransition(RefundError):
    pass
