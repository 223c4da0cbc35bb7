"""Text that can be stored: PostgreSQL refuses NUL characters and strings that are not valid
UTF-8 (lone surrogates, which JSON's \\ud800 escapes produce). Services check with `storable`
and refuse with their own domain error instead of letting the database raise."""


def storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
