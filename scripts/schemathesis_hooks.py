"""schemathesis hooks for scripts/schemathesis (loaded through SCHEMATHESIS_HOOKS).

A schema says which numbers a field takes, not how a number is written. Python's json module
writes a float from 1e16 up or below 1e-4 with an exponent (1e-05), and a float's shortest form
can run to more than 18 places (0.0012345678901234567). The service reads every number digit for
digit, as sent, and refuses exponents and more than 18 places (the published figure would
change): its document says so in words. Bodies holding such a float are dropped from generation;
every other body, and every query string, is generated as schemathesis likes.
"""

import json

import schemathesis

MAX_PLACES = 18


def _written_plainly(value):
    if isinstance(value, float):
        text = json.dumps(value)
        if "e" in text or "E" in text:
            return False
        return len(text.partition(".")[2]) <= MAX_PLACES
    if isinstance(value, dict):
        return all(_written_plainly(item) for item in value.values())
    if isinstance(value, list):
        return all(_written_plainly(item) for item in value)
    return True


@schemathesis.hook
def filter_body(context, body):
    return _written_plainly(body)
