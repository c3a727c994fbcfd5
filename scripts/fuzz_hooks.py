"""schemathesis hooks for scripts/fuzz-api.sh: payments for orders that exist.

A generated orderId is a random ObjectId, which the service answers with 404 before it charges
anything. When fuzz-api.sh created orders (FUZZ_STATE), a schema-valid body of POST /api/payments
gets one of them, each used once, and a token the demo's provider knows (one that succeeds or one
that is declined), so the fuzzer reaches the charge and its answers (201, 402, then 409).
"""
import itertools
import json
import os
import re

import schemathesis

_state = {}
if os.environ.get("FUZZ_STATE"):
    with open(os.environ["FUZZ_STATE"]) as f:
        _state = json.load(f)
_orders = iter(_state.get("orderIds", []))
_tokens = itertools.cycle(_state.get("tokens") or [None])
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def _valid_payment(body):
    # Only a body that is valid already: a negative case must stay negative.
    return (
        isinstance(body, dict)
        and set(body) == {"token", "orderId"}
        and isinstance(body["token"], str)
        and body["token"].strip() != ""
        and isinstance(body["orderId"], str)
        and _OBJECT_ID.match(body["orderId"]) is not None
    )


@schemathesis.hook
def map_body(ctx, body):
    operation = ctx.operation
    if operation.method.upper() != "POST" or operation.path != "/api/payments" or not _valid_payment(body):
        return body
    order = next(_orders, None)
    if order is None:
        return body
    token = next(_tokens)
    return {**body, "orderId": order, **({"token": token} if token else {})}
