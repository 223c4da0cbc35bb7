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
