"""Jobs that change a subscription on a customer's, staff member's or service's request."""
from workers import job


@job
def cancel_subscription(subscription_id: int, when: str, actor: str, cause: str) -> None:
    from portal.billing.cancellation import cancel

    cancel(subscription_id, when, actor=actor, cause=cause)


@job
def undo_cancel_subscription(subscription_id: int, actor: str, cause: str) -> None:
    from portal.billing.cancellation import undo_cancel

    undo_cancel(subscription_id, actor=actor, cause=cause)


# Jobs queued before "resume" came to mean the end of a pause still run, as what they meant then.
resume_subscription = undo_cancel_subscription


@job
def schedule_pause(subscription_id: int, months: int, actor: str, cause: str) -> None:
    from portal.billing.pauses import schedule_pause as schedule

    schedule(subscription_id, months, actor=actor, cause=cause)


@job
def resume_paused_subscription(subscription_id: int, actor: str, cause: str) -> None:
    from portal.billing.pauses import resume_or_unschedule

    resume_or_unschedule(subscription_id, actor=actor, cause=cause)


@job
def change_plan(subscription_id: int, plan_code: str, when: str, actor: str, cause: str) -> str:
    from portal.billing.plan_change import change_plan as change

    return change(subscription_id, plan_code, when, actor=actor, cause=cause)


@job
def undo_plan_change(subscription_id: int, actor: str, cause: str) -> str:
    from portal.billing.plan_change import undo

    return undo(subscription_id, actor=actor, cause=cause)
