"""What the mutation run mutates, the tests each module is judged by, and the mutants that are equivalent.

A module's tests are the few that exercise it, fast ones first (pytest -x stops at the first failure, so a
mutant the first test notices costs a second). Keep them tight: a surviving mutant runs all of them.

An equivalent mutant behaves exactly as the original for every input the program can give it; it is listed
by its key (`scope: before -> after`, as `--list` prints it) with the reason, and is not counted. A mutant no
test notices because no test looks is not equivalent: write the test."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    tests: tuple[str, ...]
    # Top-level names to mutate (functions, classes, constants); None: the whole module.
    scopes: tuple[str, ...] | None = None
    equivalent: dict[str, str] = field(default_factory=dict)


# python-statemachine makes the first state declared the initial one when none says so.
_FIRST_STATE_INITIAL = "python-statemachine takes the first state declared as the initial one when none is marked"

# A relationship and its foreign key are one column: setting either is enough (SQLAlchemy writes the key from
# the relationship on flush).
_ONE_COLUMN = "the relationship set next to it writes the same foreign key on flush"

# anchored_period_end: the whole periods elapsed are only where the search starts; `while end <= start` moves
# up from any lower estimate to the same end (a lower estimate costs loop turns, never another date).
_ESTIMATE = "a lower first estimate of the periods elapsed; the loop after it reaches the same end"

# refund_for_cancel_now: amount_refundable is 0 unless the invoice is paid, and what is refunded is capped at
# amount_refundable (min), so an unpaid or fully refunded invoice refunds 0 through either branch.
_REFUNDABLE = ("amount_refundable is 0 for an invoice not paid, and the refund is capped at amount_refundable: "
               "0 either way")

TARGETS = [
    Target("machines/subscription", "portal/machines/subscription.py", (
        "tests/test_money_rules_subscription.py",
    ), equivalent={
        "SubscriptionMachine.pending: True -> False": _FIRST_STATE_INITIAL,
        **{f"SubscriptionMachine.{scope}: {line} -> pass": "either line alone clears the scheduled plan: the "
                                                            "foreign key and its relationship are one column"
           for scope in ("on_change_plan", "on_unschedule_plan_change")
           for line in ("self.model.scheduled_plan_id = None", "self.model.scheduled_plan = None")},
        **{f"SubscriptionMachine.{scope}: {line} -> pass": _ONE_COLUMN for scope, line in (
            ("on_change_plan", "self.model.plan_id = plan.id"),
            ("on_schedule_plan_change", "self.model.scheduled_plan = plan"),
            ("on_schedule_plan_change", "self.model.scheduled_plan_id = plan.id"),
            ("on_remove_card", "self.model.payment_method = None"),
            ("on_remove_card", "self.model.payment_method_id = None"))},
        "SubscriptionMachine.after_transition: entitlements_changed(db.session, self.model.customer_id) -> pass":
            "the session's after_flush hook notes the customer too whenever a column the entitlement row is made "
            "of changes (status, period end, plan, owner); a transition that changes none of them changes nothing "
            "the row holds",
    }),
    Target("machines/invoice", "portal/machines/invoice.py", (
        "tests/test_money_rules_invoice.py",
    ), equivalent={
        "InvoiceMachine.open: True -> False": _FIRST_STATE_INITIAL,
        "InvoiceMachine.refund_clears_balance: amount is not None -> (dropped)":
            "None never equals a balance: the comparison alone is False for it too",
    }),
    Target("machines/payment", "portal/machines/payment.py", (
        "tests/test_money_rules_payment.py",
    ), equivalent={
        "PaymentMachine.pending: True -> False": _FIRST_STATE_INITIAL,
        **{f"PaymentMachine.on_attach_to_invoice: {line} -> pass": _ONE_COLUMN
           for line in ("self.model.invoice_id = invoice.id", "self.model.invoice = invoice")},
    }),
    Target("machines/refund", "portal/machines/refund.py", (
        "tests/test_money_rules_payment.py::test_a_refund_succeeds_with_the_providers_id_or_fails_with_the_reason_once",
    ), equivalent={
        "RefundMachine.pending: True -> False": _FIRST_STATE_INITIAL,
    }),
    Target("billing/refund_policy", "portal/billing/refund_policy.py", (
        "tests/test_money_rules_refunds.py",
    ), equivalent={
        f"refund_for_cancel_now: {change}": _REFUNDABLE for change in (
            'invoice.status != "paid" -> (dropped)',
            "invoice.amount_refundable <= 0 -> (dropped)",
            "invoice.amount_refundable <= 0 -> invoice.amount_refundable < 0",
            "0 -> -1",
        )
    }),
    Target("billing/periods", "portal/billing/periods.py", (
        "tests/test_periods.py",
        "tests/test_money_rules_periods.py",
    ), equivalent={
        "anchored_period_end: anchor > start -> anchor >= start":
            "an anchor equal to the start gives one interval from it on both branches",
        **{f"anchored_period_end: {change}": _ESTIMATE for change in (
            "(start.year - anchor.year) * 12 + start.month -> (start.year - anchor.year) * 12 - start.month",
            "(start.year - anchor.year) * 12 -> (start.year - anchor.year) // 12",
            "12 -> 11",
            "1 -> 0",
            "max(1, elapsed // step) -> min(1, elapsed // step)",
        )},
    }),
    Target("billing/dunning", "portal/billing/dunning.py", (
        "tests/test_money_rules_dunning.py",
    ), equivalent={
        "record_failed_renewal: next_attempt is None -> (dropped)":
            "a retry is scheduled only while failures <= len(schedule), so past the schedule it is always None",
    }),
    Target("billing/proration", "portal/billing/proration.py", (
        "tests/test_proration.py",
        "tests/test_money_rules_periods.py",
    ), equivalent={
        "quote: 0 -> -1 #5": "a same-interval change reaching this line is never cheaper (a downgrade returned "
                             "earlier): the difference is never below 0, so max(-1, d) is max(0, d)",
        "direction: new_length > old_length -> new_length >= old_length": "inside `new_length != old_length`",
        "direction: new_plan.amount > old_amount -> new_plan.amount >= old_amount":
            "after the equal prices returned SWITCH",
    }),
    Target("billing/checkout (Check)", "portal/billing/checkout.py", (
        "tests/test_money_rules_check.py",
    ), scopes=("CHECKOUT_LIFETIME", "RESERVATION_LIFETIME", "CheckCode", "account_id", "check_payment", "_check_code",
               "_transaction_key", "another_payment_under_way"), equivalent={
        **{f"_transaction_key: 64 -> {n}": "a transaction id is an integer below 2^63 (at most 19 digits: the "
                                            "parser refuses any other), so it is never cut" for n in (63, 65)},
        **{f"another_payment_under_way: 1 -> 2{n}": "scalar() reads the first row: one row fetched or two, the "
                                                    "same answer" for n in ("", " #2")},
        "another_payment_under_way: provider.settling_kinds -> (dropped)":
            "a provider without settling kinds (YooKassa, which has no Check) matches no row through an empty IN "
            "list either: the shortcut only saves the query",
    }),
    Target("providers/cloudpayments_notifications", "portal/providers/cloudpayments_notifications.py", (
        "tests/test_money_rules_notifications.py",
        "tests/providers/test_signatures.py",
        "tests/providers/test_notifications.py",
        "tests/receipts/test_notifications.py",
    ), equivalent={
        "_read_fields: not raw_body -> (dropped)": "the body is always bytes (the request's data or query string), "
                                                    "and b'' is empty after strip() as well",
        "_too_deep: limit -> (dropped)": "no caller passes a limit: it is always the default 0, so always "
                                         "_MAX_JSON_DEPTH",
        'parse_notification: "" -> (dropped) #2': "a card is kept only when there is a token (`shown if token else "
                                              "None`), so what CardSaved holds without one is never read",
    }),
    Target("money", "portal/money.py", (
        "tests/test_money_rules_money.py",
    )),
]
