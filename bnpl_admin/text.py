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


def stored_form(text: str) -> str:
    """`text` as it can be stored: a NUL becomes U+FFFD, a lone surrogate "?". For text kept as a
    record of what a client sent (an audit event's filters), not for values a service refuses."""
    if storable(text):
        return text
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def short_id(value) -> str:
    """A UUID's first eight characters (pages give the whole one in a title, to hover or copy);
    any other id as it is."""
    text = str(value)
    return text[:8] if len(text) == 36 and text.count("-") == 4 else text
