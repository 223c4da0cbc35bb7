from bnpl_admin.customers.masking import mask_free_text


class CustomerError(Exception):
    """Base class of the customer domain's refusals."""


class CustomerNotFound(CustomerError):
    # The id is the caller's text: a phone or card number typed where an id belongs is not echoed.
    def __init__(self, customer_id: str):
        super().__init__(f"User {mask_free_text(customer_id)} not found")
        self.customer_id = customer_id


class CustomerAlreadyExists(CustomerError):
    def __init__(self, customer_id: str):
        super().__init__(f"User {mask_free_text(customer_id)} already exists")
        self.customer_id = customer_id


class UnknownPiiField(CustomerError):
    pass


class InvalidCustomer(CustomerError):
    """A new customer's field that the rules refuse; `field` names it (the service's argument)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidOverride(CustomerError, ValueError):
    """A status override the rules refuse (a missing reason, a hold date out of range)."""
