"""The OpenAPI schema's parts that every operation of a kind shares, declared once."""

from bnpl_admin.api import idempotency

IDEMPOTENCY_ANSWERS = {
    "409": "A request with this Idempotency-Key is still being processed",
    "422": "This Idempotency-Key was already used with another request body",
}


def idempotency_key_on_every_post(result, generator, request, public):
    """drf-spectacular postprocessing hook: every POST honours `Idempotency-Key` (api.idempotency),
    so each one declares the header, with the keys the server accepts, and its 409 and 422."""
    header = {
        "in": "header",
        "name": idempotency.HEADER,
        "required": False,
        "description": (
            f"1 to {idempotency.KEY_MAX_LENGTH} printable ASCII characters. A replay within 24 h returns "
            "the first response with `Idempotent-Replayed: true`; the same key with another body is a 422, "
            "and while the first request still runs, a 409."
        ),
        "schema": {"type": "string", "pattern": f"^{idempotency.KEY.pattern}$"},
    }
    for path_item in result["paths"].values():
        operation = path_item.get("post")
        if operation is None:
            continue
        others = [p for p in operation.get("parameters", []) if (p["in"], p["name"]) != ("header", header["name"])]
        operation["parameters"] = [*others, header]
        for code, description in IDEMPOTENCY_ANSWERS.items():
            operation["responses"].setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            )
    return result
