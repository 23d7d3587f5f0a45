"""The subscription lifecycle: pending → trialing/active ⇄ past_due → canceled/expired, and active ⇄ paused."""
from statemachine import State

from portal import clock
from portal.extensions import db
from portal.machines.base import BillingMachine
from portal.models.entitlement import entitlements_changed


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
        "pause": "subscription.paused",
        "resume": "subscription.resumed",
        "change_plan": "subscription.plan_changed",
        "schedule_price_change": "subscription.price_change_scheduled",
        "apply_price_change": "subscription.price_change_applied",
        "replace_card": "subscription.card_replaced",
        "remove_card": "subscription.card_removed",
        "refuse_trial": "subscription.trial_refused",
        "schedule_plan_change": "subscription.plan_change_scheduled",
        "unschedule_plan_change": "subscription.plan_change_undone",
        "schedule_pause": "subscription.pause_scheduled",
        "unschedule_pause": "subscription.pause_undone",
    }

    pending = State("Pending", initial=True, value="pending")
    trialing = State("Trialing", value="trialing")
    active = State("Active", value="active")
    past_due = State("Past due", value="past_due")
    paused = State("Paused", value="paused")
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
    # Undo a scheduled cancel: auto-renew is on again.
    undo_cancel = (
        trialing.to.itself(unless="renews_automatically")
        | active.to.itself(unless="renews_automatically")
        | past_due.to.itself(unless="renews_automatically")
    )
    cancel = (pending.to(canceled) | trialing.to(canceled) | active.to(canceled) | past_due.to(canceled)
              | paused.to(canceled))
    expire = pending.to(expired) | past_due.to(expired)
    # A pause is asked for ahead (from the period end, for whole months) and can be taken back until then;
    # at the period end the subscription is paused instead of renewed, and resumes (early or when the
    # pause ends) with a new period, and a new anchor, from that moment (portal/billing/pauses.py).
    schedule_pause = active.to.itself(cond=["renews_automatically", "no_pause_scheduled"])
    unschedule_pause = active.to.itself(unless="no_pause_scheduled")
    pause = active.to(paused, unless="no_pause_scheduled")
    resume = paused.to(active)
    # A new card proven in the widget becomes the renewal card (portal/billing/cards.py).
    replace_card = trialing.to.itself() | active.to.itself() | past_due.to.itself() | paused.to.itself()
    # Staff take the renewal card off (reported lost or stolen): renewals then wait for the customer to pay.
    remove_card = (trialing.to.itself(cond="has_card") | active.to.itself(cond="has_card")
                   | past_due.to.itself(cond="has_card") | paused.to.itself(cond="has_card"))
    # Plan changes: at once (an upgrade, paid; any change during a trial), or at the period end (a downgrade).
    change_plan = active.to.itself() | trialing.to.itself()
    schedule_plan_change = active.to.itself() | trialing.to.itself()
    unschedule_plan_change = (
        active.to.itself(cond="plan_change_scheduled") | trialing.to.itself(cond="plan_change_scheduled")
        | past_due.to.itself(cond="plan_change_scheduled")
    )

    # The checkout offers no free trial after all (this card had one on another account): the subscription
    # stays pending and is paid from the first day (portal/billing/trials.py).
    refuse_trial = pending.to.itself()
    # Staff move a subscription to another price; it applies at the first renewal after the notice
    # (portal/billing/prices.py), and a plan change (to that plan's price) supersedes it.
    schedule_price_change = (trialing.to.itself() | active.to.itself() | past_due.to.itself()
                             | paused.to.itself())
    apply_price_change = (active.to.itself(cond="price_change_scheduled")
                          | trialing.to.itself(cond="price_change_scheduled"))

    def after_transition(self):
        # Every transition may change what GET entitlement answers: the customer's row is rewritten
        # before this transaction commits (portal/models/entitlement.py).
        entitlements_changed(db.session, self.model.customer_id)

    def renews_automatically(self):
        return not self.model.cancel_at_period_end

    def has_card(self):
        return self.model.payment_method_id is not None

    def price_change_scheduled(self):
        return self.model.scheduled_amount is not None

    def plan_change_scheduled(self):
        return self.model.scheduled_plan_id is not None

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

    def no_pause_scheduled(self):
        return self.model.pause_starts_at is None

    def on_schedule_pause(self, resumes_at=None):
        if resumes_at is None or resumes_at <= self.model.current_period_end:
            raise ValueError("a pause must end after the period it starts from")
        self.model.pause_starts_at = self.model.current_period_end
        self.model.resumes_at = resumes_at

    def on_unschedule_pause(self):
        self.model.pause_starts_at = self.model.resumes_at = None

    def on_resume(self):
        # The paused stretch is closed as the "period" that ends now: the renewal that follows bills the
        # first period from here, anchored here.
        now = clock.now()
        self.model.current_period_start = self.model.pause_starts_at or self.model.current_period_end
        self.model.current_period_end = max(now, self.model.current_period_start)
        self.model.billing_anchor = self.model.current_period_end
        self.model.pause_starts_at = self.model.resumes_at = None

    def on_replace_card(self, payment_method=None):
        if payment_method is None:
            raise ValueError("a card replacement needs the new card")
        self.model.payment_method = payment_method

    def on_refuse_trial(self, reason=None):
        if not reason:
            raise ValueError("a refused trial needs its reason")
        self.model.trial_refusal = reason

    def on_schedule_price_change(self, amount=None, effective_from=None):
        if amount is None or amount < 0 or effective_from is None:
            raise ValueError("a price change needs a price that is not negative and the date it may apply from")
        self.model.scheduled_amount = amount
        self.model.price_change_from = effective_from

    def on_apply_price_change(self):
        # The bus event names the price the subscription paid until now (portal.events).
        self.model.previous_amount = self.model.amount
        self.model.amount = self.model.scheduled_amount
        self._clear_price_change()

    def _clear_price_change(self):
        self.model.scheduled_amount = None
        self.model.price_change_from = None

    def on_remove_card(self):
        self.model.payment_method = None
        self.model.payment_method_id = None

    def on_schedule_cancel(self):
        self.model.cancel_at_period_end = True

    def on_undo_cancel(self):
        self.model.cancel_at_period_end = False

    def on_change_plan(self, plan=None, period_start=None, period_end=None):
        """Move to `plan` at its price. An interval change starts a new period of the new plan, its own anchor."""
        if plan is None or plan.id == self.model.plan_id or plan.currency != self.model.currency:
            raise ValueError("a plan change needs another plan in the subscription's currency")
        # The bus event names the plan the subscription left (portal.events).
        self.model.previous_plan = self.model.plan
        self.model.plan = plan
        self.model.plan_id = plan.id
        self.model.amount = plan.amount
        self.model.scheduled_plan_id = None
        self.model.scheduled_plan = None
        self._clear_price_change()
        if period_start is not None:
            self._set_period(period_start, period_end)
            self.model.billing_anchor = period_start

    def on_schedule_plan_change(self, plan=None):
        if plan is None or plan.id == self.model.plan_id or plan.currency != self.model.currency:
            raise ValueError("a scheduled plan change needs another plan in the subscription's currency")
        self.model.scheduled_plan = plan
        self.model.scheduled_plan_id = plan.id

    def on_unschedule_plan_change(self):
        # The bus event names the plan that is no longer coming (portal.events).
        self.model.undone_plan = self.model.scheduled_plan
        self.model.scheduled_plan = None
        self.model.scheduled_plan_id = None

    def on_enter_canceled(self):
        self.model.canceled_at = clock.now()
        self.model.ended_at = self.model.canceled_at

    def on_enter_expired(self):
        self.model.ended_at = clock.now()
