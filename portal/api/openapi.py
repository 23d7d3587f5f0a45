"""The OpenAPI 3.1 description of /api/v1, written by hand. Its request schemas are also what the views
validate bodies with, and the tests validate every response against it, so the document cannot drift."""
from copy import deepcopy
from functools import cache

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from portal.api.problems import PROBLEM_MEDIA_TYPE
from portal.billing.endings import END_REASONS
from portal.billing.trials import TRIAL_REFUSALS
from portal.models.invoice import INVOICE_KINDS, INVOICE_STATUSES
from portal.models.subscription import LIVE_STATUSES, SUBSCRIPTION_STATUSES
from portal.templating import SUPPORTED_LOCALES

DOCUMENT_URI = "urn:cinema-billing:api:v1"
ENTITLEMENT_MAX_AGE = 30  # seconds; see the entitlement operation's description

# Strings that end up in PostgreSQL text columns: no control characters (a NUL is refused by the database).
_NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
# Exactly the Idempotency-Key the server takes (portal/api/idempotency.py matches this very pattern): 1 to
# 255 printable ASCII characters, no space at either end (HTTP would strip it on the way).
IDEMPOTENCY_KEY_PATTERN = "^[!-~]([ -~]{0,253}[!-~])?$"
_EMAIL_PATTERN = "^[^@\\s\\u0000-\\u001f\\u007f]+@[^@\\s\\u0000-\\u001f\\u007f]+\\.[^@\\s\\u0000-\\u001f\\u007f]+$"
_UTC_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


_TIME = {"type": "string", "format": "date-time", "pattern": _UTC_PATTERN,
         "description": "ISO 8601 in UTC, to the second: 2025-01-31T12:00:00Z"}
_NULLABLE_TIME = {**_TIME, "type": ["string", "null"]}
_MONEY = {"type": "integer", "minimum": 0, "description": "Integer minor units (kopecks for RUB)"}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}

SCHEMAS = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details. `detail` says what to change; `errors` lists field problems.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference",
                     "description": "about:blank for plain HTTP errors, else a tag: URI naming the problem"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "properties": {
                        "pointer": {"type": "string", "description": "JSON Pointer into the request body, as #/a/b"},
                        "detail": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
            },
        },
    },
    "PlanRef": {
        "type": "object",
        "required": ["code", "name", "description"],
        "properties": {"code": {"type": "string"},
                       "name": {"type": "string", "description": "In the language asked for (`lang`, else "
                                                                 "Accept-Language, else ru); see Content-Language"},
                       "description": {"type": "string", "description": "In the same language"}},
        "additionalProperties": False,
    },
    "CustomerRef": {
        "type": "object",
        "required": ["external_id", "email"],
        "properties": {"external_id": {"type": ["string", "null"]}, "email": {"type": ["string", "null"]}},
        "additionalProperties": False,
    },
    "Card": {
        "type": "object",
        "required": ["mask", "exp"],
        "properties": {"mask": {"type": "string", "examples": ["Visa •••• 4242"]},
                       "exp": {"type": ["string", "null"], "examples": ["12/30"]}},
        "additionalProperties": False,
    },
    "Subscription": {
        "type": "object",
        "required": ["id", "status", "plan", "customer", "amount", "currency", "current_period_start",
                     "current_period_end", "trial_end", "cancel_at_period_end", "canceled_at", "ended_at", "ending",
                     "trial_refusal", "card", "pause", "scheduled_plan", "scheduled_price"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"enum": list(SUBSCRIPTION_STATUSES)},
            "plan": _ref("PlanRef"),
            "customer": _ref("CustomerRef"),
            "amount": {**_MONEY, "description": "The price per period agreed at checkout, in minor units"},
            "currency": _CURRENCY,
            "current_period_start": _NULLABLE_TIME,
            "current_period_end": _NULLABLE_TIME,
            "trial_end": _NULLABLE_TIME,
            "cancel_at_period_end": {"type": "boolean"},
            "canceled_at": _NULLABLE_TIME,
            "ended_at": _NULLABLE_TIME,
            "ending": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["at", "reason"],
                "properties": {"at": _TIME, "reason": {"enum": list(END_REASONS)}},
                "additionalProperties": False,
                "description": "When and why a canceled or expired subscription ended: checkout_unpaid (not paid "
                               "within 24 hours), checkout_canceled (replaced or canceled before payment), "
                               "auto_renew_off (ended with its paid period), payment_failed (the renewal's retries "
                               "ran out), by_customer, trial_canceled (the customer canceled the free trial), "
                               "by_staff, by_platform (a command of the platform); null while it lives"}]},
            "trial_refusal": {"oneOf": [{"type": "null"}, {"enum": list(TRIAL_REFUSALS)}],
                              "description": "Why the checkout offers no free trial although the plan has one "
                                             "(card_used: this card had a trial on another account); it is paid "
                                             "from the first day. Null otherwise"},
            "card": _nullable(_ref("Card")),
            "pause": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["starts_at", "resumes_at"],
                "properties": {"starts_at": _NULLABLE_TIME, "resumes_at": _NULLABLE_TIME},
                "additionalProperties": False,
                "description": "A pause asked for (it starts at the period end) or under way; null without one"}]},
            "scheduled_plan": {**_nullable(_ref("PlanRef")),
                               "description": "A downgrade waiting for the period end: the plan the renewal bills"},
            "scheduled_price": {"oneOf": [{"type": "null"}, {
                "type": "object", "required": ["amount", "effective_from"],
                "properties": {"amount": _MONEY, "effective_from": {"type": "string", "format": "date-time"}},
                "additionalProperties": False,
                "description": "A price staff moved the subscription to, billed from the first renewal on or after "
                               "effective_from (the end of the notice); null without one"}]},
        },
        "additionalProperties": False,
    },
    "Invoice": {
        "type": "object",
        "required": ["id", "number", "kind", "status", "amount", "currency", "amount_refunded", "period_start",
                     "period_end", "attempt_count", "next_attempt_at"],
        "properties": {
            "id": {"type": "integer", "description": "Also the provider's InvoiceId"},
            "number": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{6}$",
                       "description": "What the customer reads: year of issue and its place in that year"},
            "kind": {"enum": list(INVOICE_KINDS)},
            "status": {"enum": list(INVOICE_STATUSES)},
            "amount": _MONEY,
            "currency": _CURRENCY,
            "amount_refunded": _MONEY,
            "period_start": _NULLABLE_TIME,
            "period_end": _NULLABLE_TIME,
            "attempt_count": {"type": "integer", "minimum": 0},
            "next_attempt_at": _NULLABLE_TIME,
        },
        "additionalProperties": False,
    },
    "Widget": {
        "type": "object",
        "description": "Options for the provider's payment widget, passed as they are to "
                       "`new cp.CloudPayments().pay(scheme, options)`. Unlike the rest of this API, `amount` is "
                       "in major units (299.0), because that is what the widget expects.",
        "required": ["publicId", "amount", "currency", "invoiceId", "accountId", "description", "data"],
        "properties": {
            "publicId": {"type": "string"},
            "amount": {"type": "number", "minimum": 0, "description": "Major units, as the widget wants"},
            "currency": _CURRENCY,
            "invoiceId": {"type": "string"},
            "accountId": {"type": "string"},
            "description": {"type": "string"},
            "email": {"type": "string"},
            "skin": {"type": "string"},
            "scheme": {"enum": ["charge", "auth"],
                       "description": "auth: a small card check before a trial, voided afterwards"},
            "data": {"type": "object"},
        },
    },
    "Entitlement": {
        "type": "object",
        "required": ["entitled", "status", "plan", "until", "subscription_id"],
        "properties": {
            "entitled": {"type": "boolean", "description": "May the customer watch now"},
            "status": {"oneOf": [{"enum": list(LIVE_STATUSES)}, {"type": "null"}],
                       "description": "Status of the customer's live subscription (paused: not entitled until "
                                      "it resumes); null without one"},
            "plan": {"type": ["string", "null"], "description": "Plan code"},
            "until": {**_NULLABLE_TIME, "description": "End of the paid (or trial) period. A past_due "
                      "subscription stays entitled while dunning runs, past this time"},
            "subscription_id": {"type": ["integer", "null"]},
        },
        "additionalProperties": False,
    },
    "PayRequest": {
        "type": "object",
        "required": ["customer", "plan"],
        "properties": {
            "customer": {
                "type": "object",
                "required": ["external_id", "email"],
                "properties": {
                    "external_id": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": _NO_CONTROL,
                                    "description": "The customer's id in the platform's auth service"},
                    "email": {"type": "string", "maxLength": 320, "pattern": _EMAIL_PATTERN,
                              "x-pattern-hint": "must be an email address such as name@example.com"},
                    "name": {"type": "string", "maxLength": 200, "pattern": _NO_CONTROL},
                },
                "additionalProperties": False,
            },
            "plan": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _NO_CONTROL,
                     "description": "Plan code from the catalogue"},
        },
        "additionalProperties": False,
    },
    "PayResponse": {
        "type": "object",
        "required": ["subscription", "invoice", "widget", "widget_script_url"],
        "properties": {
            "subscription": _ref("Subscription"),
            "invoice": _ref("Invoice"),
            "widget": _ref("Widget"),
            "widget_script_url": {"type": "string", "description": "The widget's script, to load in the page"},
            "provider": {"type": "string", "description": "Whose widget it is (`cloudpayments`, `yookassa`): "
                                                          "the default provider for the invoice's currency"},
        },
        "additionalProperties": False,
    },
    "SubscriptionList": {
        "type": "object",
        "required": ["subscriptions"],
        "properties": {"subscriptions": {"type": "array", "items": _ref("Subscription"),
                                         "description": "Newest first"}},
        "additionalProperties": False,
    },
    "CancelRequest": {
        "type": "object",
        "properties": {"when": {"enum": ["period_end", "now"], "default": "period_end"}},
        "additionalProperties": False,
    },
    "RepayRequest": {"type": "object", "properties": {}, "additionalProperties": False},
    "PauseRequest": {"type": "object", "required": ["months"], "properties": {"months": {"enum": [1, 2, 3]}},
                     "additionalProperties": False},
    "ResumeRequest": {"type": "object", "properties": {}, "additionalProperties": False},
    "ChangeAccepted": {
        "type": "object", "required": ["subscription"],
        "properties": {"subscription": {**_ref("Subscription"),
                                        "description": "As it is now; the job that makes the change runs right after"}},
        "additionalProperties": False,
    },
    "CardCheckRequest": {"type": "object", "properties": {}, "additionalProperties": False},
    "CancelAccepted": {
        "type": "object",
        "required": ["subscription", "when", "refund_amount", "currency"],
        "properties": {
            "subscription": {**_ref("Subscription"),
                             "description": "As it is now; the job that cancels it runs right after"},
            "when": {"enum": ["period_end", "now"]},
            "refund_amount": {"type": ["integer", "null"], "minimum": 0,
                              "description": "now: the prorated refund of the unused paid days, in minor units, "
                                             "as computed when the request was accepted; period_end: null"},
            "currency": _CURRENCY,
        },
        "additionalProperties": False,
    },
    "ChangePlanRequest": {
        "type": "object",
        "required": ["plan"],
        "properties": {
            "plan": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _NO_CONTROL,
                     "description": "Code of the plan to change to, in the subscription's currency"},
            "when": {"enum": ["now", "period_end"],
                     "description": "now: an upgrade (or any change during a trial), charged the prorated price "
                                    "now; period_end: from the next period, nothing charged now. Default: now for "
                                    "an upgrade, period_end for a downgrade (which cannot be made now)"},
        },
        "additionalProperties": False,
    },
    "ChangePlanAccepted": {
        "type": "object",
        "required": ["subscription", "plan", "when", "direction", "amount", "currency", "effective_at", "invoice",
                     "charging_card"],
        "properties": {
            "subscription": {**_ref("Subscription"),
                             "description": "As it is now: the plan changes once the proration is paid (now), or "
                                            "at the period end (a job schedules it right after)"},
            "plan": _ref("PlanRef"),
            "when": {"enum": ["now", "period_end"]},
            "direction": {"enum": ["upgrade", "downgrade", "switch"],
                          "description": "upgrade: a longer interval or a higher price; downgrade: a shorter "
                                         "interval or a lower price; switch: the same price"},
            "amount": {**_MONEY, "description": "Charged now: the price difference for the unused whole days of "
                                                "the period (half-up to the minor unit); for a longer interval, "
                                                "the new price less the unused days' credit; 0 for period_end"},
            "currency": _CURRENCY,
            "effective_at": {**_NULLABLE_TIME, "description": "period_end: when the new plan starts; now: null "
                                                              "(once the invoice is paid)"},
            "invoice": {**_nullable(_ref("Invoice")),
                        "description": "The proration invoice; the saved card is charged for it in a job, or the "
                                       "customer pays it in the widget (its id is the widget's invoiceId)"},
            "charging_card": {"type": "boolean", "description": "The saved card is being charged for the invoice"},
        },
        "additionalProperties": False,
    },
    "PriceMoveRequest": {"type": "object", "properties": {}, "additionalProperties": False},
    "PriceMoved": {
        "type": "object",
        "required": ["subscription", "amount", "currency", "effective_from", "first_renewal_at"],
        "properties": {
            "subscription": {**_ref("Subscription"),
                             "description": "With the move scheduled: `scheduled_price` names it; `amount` is "
                                            "still the price billed until then"},
            "amount": {**_MONEY, "description": "The plan's current price, billed from `first_renewal_at`"},
            "currency": _CURRENCY,
            "effective_from": {"type": "string", "format": "date-time",
                               "description": "The end of the notice the customer is given from now"},
            "first_renewal_at": {"type": "string", "format": "date-time",
                                 "description": "The first renewal on or after the end of the notice: the first "
                                                "charge at the new price"},
        },
        "additionalProperties": False,
    },
    "RepayAccepted": {
        "type": "object",
        "required": ["subscription", "invoice"],
        "properties": {"subscription": _ref("Subscription"),
                       "invoice": {**_ref("Invoice"), "description": "The invoice the saved card will be charged for"}},
        "additionalProperties": False,
    },
}


def _problem_response(description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("Problem")}}}
    if headers:
        response["headers"] = headers
    return response


RESPONSES = {
    "BadRequest": _problem_response("The body is not well-formed JSON, or a header is malformed"),
    "Unauthorized": _problem_response(
        "Missing or invalid bearer token",
        {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="billing-api"'}}),
    "Forbidden": _problem_response(
        "The token is valid but its API_TOKENS entry lacks the scope the operation needs (`read` for GET, "
        "`write` for POST)",
        {"WWW-Authenticate": {"schema": {"type": "string"},
                              "description": 'Bearer realm="billing-api", error="insufficient_scope", scope="…"'}}),
    "NotFound": _problem_response("Unknown id (also: a subscription asked for under another customer's path)"),
    "Conflict": _problem_response("The subscription's state does not allow this now, or a request with the "
                                  "same Idempotency-Key is still in flight"),
    "UnsupportedMediaType": _problem_response("The body is not sent as application/json"),
    "UnprocessableEntity": _problem_response("Fields are missing or invalid (see `errors`), or the "
                                             "Idempotency-Key was used with a different request"),
    "Problem": _problem_response("Any other error"),
}

PARAMETERS = {
    "IdempotencyKey": {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "description": "Any unique string of 1 to 255 printable ASCII characters, no space at either end "
                       "(a UUID is a good choice). "
                       "A repeat within 24 h with the same body returns the first answer with "
                       "`Idempotent-Replayed: true`; with a different body it is refused (422); while the first "
                       "is still being handled it is refused (409). Keys are per client.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": IDEMPOTENCY_KEY_PATTERN},
    },
    "Lang": {"name": "lang", "in": "query", "required": False,
             "description": "The language plan names and descriptions are given in; over Accept-Language. An "
                            "unknown value is ignored. The answer's Content-Language says which was used.",
             "schema": {"enum": list(SUPPORTED_LOCALES)}},
    "AcceptLanguage": {"name": "Accept-Language", "in": "header", "required": False,
                       "description": "Used for plan names without `lang`; Russian when neither matches",
                       "schema": {"type": "string"}},
    "SubscriptionId": {"name": "subscription_id", "in": "path", "required": True,
                       "schema": {"type": "integer", "minimum": 1}},
    "ExternalId": {"name": "external_id", "in": "path", "required": True,
                   "description": "The customer's id in the platform's auth service",
                   "schema": {"type": "string", "maxLength": 128}},
}

_REPLAYED = {"Idempotent-Replayed": {"description": "true when this is the stored answer to an earlier request "
                                                    "with the same Idempotency-Key",
                                     "schema": {"type": "string", "enum": ["true"]}}}


def _json(schema_name: str, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}
    if headers:
        response["headers"] = headers
    return response


def _errors(*codes: int) -> dict:
    names = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
             415: "UnsupportedMediaType", 422: "UnprocessableEntity"}
    # Every operation needs a scope: a token without it gets 403.
    codes = tuple(sorted({*codes, 403}))
    responses = {str(code): {"$ref": f"#/components/responses/{names[code]}"} for code in codes}
    responses["default"] = {"$ref": "#/components/responses/Problem"}
    return responses


LANGUAGE_PARAMS = ("Lang", "AcceptLanguage")  # every operation that answers with a plan's name


def _params(*names: str) -> list:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


def _post_body(schema_name: str, required: bool) -> dict:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema_name)}}}


_GET_SUBSCRIPTION = {
    "summary": "A subscription",
    "responses": {"200": _json("Subscription", "The subscription"), **_errors(401, 404)},
}
_CANCEL = {
    "summary": "Cancel a subscription: at the end of the paid period (default) or now with a prorated refund",
    "description": "Accepted for a background job, which makes the change. `period_end` turns auto-renewal off "
                   "and keeps access until the period ends; `now` ends it at once, voids open invoices and refunds "
                   "the unused days. A pending (never paid) subscription can only be cancelled `now`.",
    "requestBody": _post_body("CancelRequest", False),
    "responses": {"202": _json("CancelAccepted", "Accepted; the cancellation runs in a job", _REPLAYED),
                  **_errors(400, 401, 404, 409, 415, 422)},
}
_CARD = {
    "summary": "Replace the card a live subscription renews with: a card check to open in the widget",
    "description": "Returns the subscription's open `card_check` invoice (reused for 24 hours) and the widget "
                   "parameters: the widget authorises a small amount on the new card, which is voided at once, "
                   "never captured. Once the provider's notification is applied the new card is the renewal "
                   "card; a paused subscription's too, so that its resume charges the new card. A subscription "
                   "that is not trialing, active, past due or paused gets 409.",
    "requestBody": _post_body("CardCheckRequest", False),
    "responses": {"201": _json("PayResponse", "The card check", _REPLAYED),
                  **_errors(400, 401, 404, 409, 415, 422)},
}
_PAUSE = {
    "summary": "Pause an active subscription from its period end for 1 to 3 months",
    "description": "Accepted for a background job. No access and no charges while paused; the subscription "
                   "resumes by itself when the pause ends (or on resume) with a new period charged on the saved "
                   "card. 409 when it is not active, auto-renew is off, or a pause is scheduled already.",
    "requestBody": _post_body("PauseRequest", True),
    "responses": {"202": _json("ChangeAccepted", "Accepted; the pause is scheduled in a job", _REPLAYED),
                  **_errors(400, 401, 404, 409, 415, 422)},
}
_RESUME = {
    "summary": "Resume a paused subscription now, or take back a pause that has not started",
    "description": "Accepted for a background job. A paused subscription starts a new period now, charged on "
                   "the saved card. 409 when it is neither paused nor has a pause scheduled.",
    "requestBody": _post_body("ResumeRequest", False),
    "responses": {"202": _json("ChangeAccepted", "Accepted; the change runs in a job", _REPLAYED),
                  **_errors(400, 401, 404, 409, 415, 422)},
}
_CHANGE_PLAN = {
    "summary": "Change plan: an upgrade now with proration, a downgrade at the period end",
    "description": "An upgrade (a longer interval, or a higher price on the same interval) gets a proration "
                   "invoice, charged on the saved card in a job; the plan changes once it is paid (without a card, "
                   "or when it declines, pay the invoice in the widget). Monthly to yearly starts a new yearly "
                   "period now, for the yearly price less the unused days' credit. A downgrade is scheduled for "
                   "the period end (the renewal bills the new plan); asking for the current plan again undoes a "
                   "scheduled change. A past-due, pending or "
                   "ended subscription cannot change plan (409).",
    "requestBody": _post_body("ChangePlanRequest", True),
    "responses": {"202": _json("ChangePlanAccepted", "Accepted", _REPLAYED), **_errors(400, 401, 404, 409, 415, 422)},
}
_PRICE_MOVE = {
    "summary": "Move a subscription to its plan's current price, from the first renewal after notice",
    "description": "A subscription keeps the price it was sold at when its plan's price changes. This schedules "
                   "the move (as staff do from the admin): the customer is notified now "
                   "(subscription.price_change_scheduled) and pays the plan's price from the first renewal on or "
                   "after the end of the notice. 409 when the subscription is not live, already pays (or is "
                   "moving to) the plan's price, or the plan is priced in another currency.",
    "requestBody": _post_body("PriceMoveRequest", False),
    "responses": {"200": _json("PriceMoved", "The move is scheduled", _REPLAYED),
                  **_errors(400, 401, 404, 409, 415, 422)},
}
_REPAY = {
    "summary": "Charge the saved card for a past-due subscription's open invoice",
    "description": "Accepted for a background job, which charges the card; the subscription becomes active when "
                   "the payment succeeds. No body is needed (an empty JSON object is accepted).",
    "requestBody": _post_body("RepayRequest", False),
    "responses": {"202": _json("RepayAccepted", "Accepted; the charge runs in a job", _REPLAYED),
                  **_errors(400, 401, 404, 409, 415, 422)},
}


def _operation(op_id: str, spec: dict, params: tuple = ()) -> dict:
    operation = {"operationId": op_id, **deepcopy(spec)}
    operation["parameters"] = _params(*params, *LANGUAGE_PARAMS)
    return operation


DOCUMENT = {
    "openapi": "3.1.0",
    "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
    "info": {
        "title": "Cinema billing API",
        "version": "1.0.0",
        "description": "Subscriptions, payments and entitlements for the platform's other services. "
                       "Money is integer minor units plus an ISO 4217 currency (except the widget's `amount`); "
                       "times are ISO 8601 UTC. Errors are RFC 9457 problem documents. Every POST honours an "
                       "Idempotency-Key header.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/pay": {"post": {
            "operationId": "pay",
            "summary": "Start (or resume) a checkout: pending subscription, open invoice, widget parameters",
            "description": "Creates or updates the customer by external_id, then returns the customer's pending "
                           "subscription to the plan with its open invoice, reusing a checkout started in the "
                           "last 24 hours. The page loads `widget_script_url` and opens the widget with `widget`. "
                           "A customer with a live (trialing, active, past_due) subscription gets 409. A customer "
                           "whose subscription ended (canceled or expired) resubscribes here: a new subscription, the "
                           "ended one kept in the history, a free trial only if the customer never had one.",
            "parameters": _params("IdempotencyKey", *LANGUAGE_PARAMS),
            "requestBody": _post_body("PayRequest", True),
            "responses": {"201": _json("PayResponse", "The checkout", _REPLAYED),
                          **_errors(400, 401, 404, 409, 415, 422)},
        }},
        "/subscriptions/{subscription_id}": {"get": _operation("getSubscription", _GET_SUBSCRIPTION,
                                                               ("SubscriptionId",))},
        "/subscriptions/{subscription_id}/cancel": {"post": _operation(
            "cancelSubscription", _CANCEL, ("SubscriptionId", "IdempotencyKey"))},
        "/subscriptions/{subscription_id}/repay": {"post": _operation(
            "repaySubscription", _REPAY, ("SubscriptionId", "IdempotencyKey"))},
        "/subscriptions/{subscription_id}/pause": {"post": _operation(
            "pauseSubscription", _PAUSE, ("SubscriptionId", "IdempotencyKey"))},
        "/subscriptions/{subscription_id}/resume": {"post": _operation(
            "resumeSubscription", _RESUME, ("SubscriptionId", "IdempotencyKey"))},
        "/subscriptions/{subscription_id}/card": {"post": _operation(
            "replaceSubscriptionCard", _CARD, ("SubscriptionId", "IdempotencyKey"))},
        "/subscriptions/{subscription_id}/change-plan": {"post": _operation(
            "changeSubscriptionPlan", _CHANGE_PLAN, ("SubscriptionId", "IdempotencyKey"))},
        "/subscriptions/{subscription_id}/move-price": {"post": _operation(
            "moveSubscriptionPrice", _PRICE_MOVE, ("SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions": {"get": {
            "operationId": "listCustomerSubscriptions",
            "summary": "A customer's subscriptions, newest first",
            "parameters": _params("ExternalId", *LANGUAGE_PARAMS),
            "responses": {"200": _json("SubscriptionList", "The subscriptions"), **_errors(401, 404)},
        }},
        "/customers/{external_id}/subscriptions/{subscription_id}": {"get": _operation(
            "getCustomerSubscription", _GET_SUBSCRIPTION, ("ExternalId", "SubscriptionId"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/cancel": {"post": _operation(
            "cancelCustomerSubscription", _CANCEL, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/repay": {"post": _operation(
            "repayCustomerSubscription", _REPAY, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/pause": {"post": _operation(
            "pauseCustomerSubscription", _PAUSE, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/resume": {"post": _operation(
            "resumeCustomerSubscription", _RESUME, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/card": {"post": _operation(
            "replaceCustomerSubscriptionCard", _CARD, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/change-plan": {"post": _operation(
            "changeCustomerSubscriptionPlan", _CHANGE_PLAN, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/subscriptions/{subscription_id}/move-price": {"post": _operation(
            "moveCustomerSubscriptionPrice", _PRICE_MOVE, ("ExternalId", "SubscriptionId", "IdempotencyKey"))},
        "/customers/{external_id}/entitlement": {"get": {
            "operationId": "getEntitlement",
            "summary": "May the customer watch now, on which plan, until when",
            "description": "Called on every play, so it is one indexed query. Answers that grant access may be "
                           f"cached privately for up to {ENTITLEMENT_MAX_AGE} s (never past `until`): a "
                           "cancellation takes at most that long to bite. Answers that refuse access are not "
                           "cached, so a customer who has just paid can watch at once.",
            "parameters": _params("ExternalId"),
            "responses": {"200": _json("Entitlement", "The entitlement", {
                "Cache-Control": {"schema": {"type": "string"},
                                  "description": f"private, max-age=0..{ENTITLEMENT_MAX_AGE} when entitled; "
                                                 "no-store otherwise"}}),
                **_errors(401, 404)},
        }},
        "/openapi.json": {"get": {
            "operationId": "getOpenApiDocument",
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "The OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "required": ["openapi", "info", "paths"]}}}}},
        }},
    },
    "components": {
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "parameters": PARAMETERS,
        "securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "A token from API_TOKENS, issued per calling service with its scopes: `read` "
                           "(subscriptions, entitlement: every GET) and `write` (pay, cancel, repay: every POST)",
        }},
    },
}


@cache
def registry() -> Registry:
    return Registry().with_resource(DOCUMENT_URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012))


def validator_for(pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` in the document ("#/components/schemas/PayRequest"),
    with every $ref inside the document resolvable."""
    return Draft202012Validator({"$ref": DOCUMENT_URI + pointer}, registry=registry())


@cache
def request_validator(schema_name: str) -> Draft202012Validator:
    return validator_for(f"#/components/schemas/{schema_name}")
