"""Jobs that carry out what staff asked for on the admin pages (the audit row says what, and gets the result)."""
from workers import job


@job
def run_staff_action(action_id: int) -> str | None:
    from portal.admin.actions import perform

    return perform(action_id)
