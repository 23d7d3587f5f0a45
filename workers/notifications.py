"""Jobs for provider notifications."""
from workers import job


@job
def process_notification(event_id: int) -> None:
    from portal.billing import notifications

    notifications.process(event_id)


@job
def drain_inbox() -> None:
    from portal.billing import inbox

    inbox.drain()
