"""Money is Decimal with two places, never float."""

import re
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")  # fits DecimalField(max_digits=14, decimal_places=2)
# Plain ASCII decimals only: Decimal() alone would also read other scripts' digits (Arabic-Indic,
# full-width), underscores ("1_000") and exponents ("1e2").
AMOUNT_TEXT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$", re.ASCII)


def parse_amount(value, *, field: str = "amount") -> Decimal:
    """A positive amount with at most two decimals; ValueError with a clear message otherwise."""
    if isinstance(value, float | bool):
        raise ValueError(f'{field} must be a decimal string such as "166.67"')
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) or (isinstance(value, str) and AMOUNT_TEXT.match(value.strip())):
        try:
            amount = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise ValueError(f"{field} must be a number") from None
    else:
        raise ValueError(f"{field} must be a number")
    if not amount.is_finite():
        raise ValueError(f"{field} must be a number")
    if amount <= 0:
        raise ValueError(f"{field} must be greater than 0")
    if amount > MAX_AMOUNT:
        raise ValueError(f"{field} must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{field} must have at most 2 decimal places")
    return amount.quantize(CENT)
