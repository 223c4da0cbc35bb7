class PlanError(Exception):
    """Base class of the plan domain's refusals."""


class DebtUserError(PlanError):
    message = "Users with DEBT_USER status cannot create new BNPL plans"

    def __init__(self, customer_id: str):
        super().__init__(self.message)
        self.customer_id = customer_id


class InvalidPlan(PlanError):
    pass


class PaymentError(PlanError):
    pass


class PlanNotFound(PlanError):
    pass


class PlanNotCancellable(PlanError):
    pass


class PaymentNotFound(PlanError):
    pass


class PaymentConflict(PaymentError):
    """The reference is already used by a payment with another customer or amount."""

    def __init__(self, reference: str):
        super().__init__(f"Reference {reference} was already used for a different payment")
        self.reference = reference


class PaymentExceedsBalance(PaymentError):
    def __init__(self, outstanding):
        super().__init__(f"Payment exceeds the outstanding balance ({outstanding:.2f})")
        self.outstanding = outstanding


class NothingOutstanding(PaymentError):
    def __init__(self):
        super().__init__("Nothing is outstanding")
