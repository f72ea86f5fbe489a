"""Schemathesis hooks for the API contract run (.ci/contract).

Rules a JSON Schema cannot state are applied to the positive (schema-valid)
cases here, so that "valid data is accepted" tests what the documents
promise. Each rule is also written in the operation's description.
"""

import schemathesis

# The lots registered in the contract run's platform config.
ACCESS_ID = "234"
PARKING_CODES = ("1001", "1002")


@schemathesis.hook
def map_case(ctx, case):
    operation = case.operation
    meta = case.meta
    positive = meta is not None and meta.generation.mode.is_positive
    if not positive or not isinstance(case.body, dict):
        return case
    if operation.method.upper() == "POST" and operation.path == "/api/admin/lists":
        body = case.body
        # Referenced data must exist for a change to be accepted (404 otherwise,
        # which the document states); aim most changes at the known lot.
        body["accessId"] = ACCESS_ID
        if isinstance(body.get("parkingCodes"), list):
            body["parkingCodes"] = [c for c in body["parkingCodes"] if c in PARKING_CODES]
        list_times(body)
    if operation.method.upper() == "POST" and operation.path == "/api/admin/lists/city":
        # The same rules for the whole city.
        list_times(case.body)
    return case


def list_times(body):
    """An add needs both times (update and delete keep the previous ones);
    "endTime not before startTime" is a cross-field rule."""
    if body.get("operate") == "add":
        body.setdefault("startTime", "2026-01-01 00:00:00")
        body.setdefault("endTime", "2026-12-28 23:59:59")
    start, end = body.get("startTime"), body.get("endTime")
    if isinstance(start, str) and isinstance(end, str) and end < start:
        body["startTime"], body["endTime"] = end, start


# The contract run's lot (examples/lot.toml): entry lanes 1 and 3 (3 monthly only), exit lane 2.
LANES = ("1", "2", "3")


@schemathesis.hook("map_case")
def lot_case(ctx, case):
    operation = case.operation
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    path, method = operation.path, operation.method.upper()
    body = case.body if isinstance(case.body, dict) else None
    if path.startswith("/api/lanes/{lane}/") and case.path_parameters is not None:
        # Lanes are configuration (404 otherwise, documented).
        case.path_parameters["lane"] = "2" if path.endswith("/exit") else "1"
        # Event times are bounded by the lot's clock (≤ 10 min ahead), which no schema can say.
        if body is not None:
            body.pop("time", None)
    if path == "/api/sessions/{uid}/close" and body is not None:
        body["lane"] = "2"
        body.pop("time", None)  # not before the session's entry
        body.pop("fee", None)  # at most the tariff's fee
    if path == "/api/month-cards" and method == "POST" and body is not None:
        if isinstance(body.get("lanes"), list):
            body["lanes"] = [lane for lane in body["lanes"] if lane in LANES]
        start, end = body.get("startTime"), body.get("endTime")
        if isinstance(start, str) and isinstance(end, str) and end < start:
            body["startTime"], body["endTime"] = end, start
    return case
