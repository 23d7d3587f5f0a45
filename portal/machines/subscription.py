"""The subscription lifecycle: pending → trialing/active ⇄ past_due → canceled/expired."""
from statemachine import State

from portal import clock
from portal.machines.base import BillingMachine


class SubscriptionMachine(BillingMachine):
    entity_type = "subscription"
    announces = {
        "start_trial": "subscription.activated",
        "activate": "subscription.activated",
        "renew": "subscription.renewed",
        "extend": "subscription.renewed",
        "mark_past_due": "subscription.past_due",
        "cancel": "subscription.canceled",
        "expire": "subscription.expired",
    }

    pending = State("Pending", initial=True, value="pending")
    trialing = State("Trialing", value="trialing")
    active = State("Active", value="active")
    past_due = State("Past due", value="past_due")
    canceled = State("Canceled", final=True, value="canceled")
    expired = State("Expired", final=True, value="expired")

    start_trial = pending.to(trialing)
    activate = pending.to(active) | trialing.to(active)
    renew = active.to.itself() | past_due.to(active)
    extend = active.to.itself() | trialing.to.itself() | past_due.to(active)
    mark_past_due = active.to(past_due) | trialing.to(past_due)
    schedule_cancel = (
        trialing.to.itself(cond="renews_automatically")
        | active.to.itself(cond="renews_automatically")
        | past_due.to.itself(cond="renews_automatically")
    )
    resume = (
        trialing.to.itself(unless="renews_automatically")
        | active.to.itself(unless="renews_automatically")
        | past_due.to.itself(unless="renews_automatically")
    )
    cancel = pending.to(canceled) | trialing.to(canceled) | active.to(canceled) | past_due.to(canceled)
    expire = pending.to(expired) | past_due.to(expired)
    # A new card proven in the widget becomes the renewal card (portal/billing/cards.py).
    replace_card = trialing.to.itself() | active.to.itself() | past_due.to.itself()

    def renews_automatically(self):
        return not self.model.cancel_at_period_end

    def _set_period(self, period_start, period_end):
        if period_start is None or period_end is None or period_end <= period_start:
            raise ValueError("a subscription period needs a start before its end")
        self.model.current_period_start = period_start
        self.model.current_period_end = period_end

    def on_start_trial(self, period_start=None, period_end=None):
        self._set_period(period_start, period_end)
        self.model.trial_end = period_end
        # The first paid period starts when the trial ends, and so do all the later ones.
        self.model.billing_anchor = period_end

    def on_activate(self, period_start=None, period_end=None):
        self._set_period(period_start, period_end)
        if self.model.billing_anchor is None:
            self.model.billing_anchor = period_start

    def on_renew(self, period_start=None, period_end=None):
        self._set_period(period_start, period_end)

    def on_extend(self, period_end=None):
        if period_end is None or period_end <= self.model.current_period_end:
            raise ValueError("an extension must move the period end later")
        self.model.current_period_end = period_end

    def on_replace_card(self, payment_method=None):
        if payment_method is None:
            raise ValueError("a card replacement needs the new card")
        self.model.payment_method = payment_method

    def on_schedule_cancel(self):
        self.model.cancel_at_period_end = True

    def on_resume(self):
        self.model.cancel_at_period_end = False

    def on_enter_canceled(self):
        self.model.canceled_at = clock.now()
        self.model.ended_at = self.model.canceled_at

    def on_enter_expired(self):
        self.model.ended_at = clock.now()
