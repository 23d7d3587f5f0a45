"""Two transitions of one subscription at the same moment serialize on its row lock: exactly one wins."""
import threading
from datetime import timedelta

from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.machines import TransitionNotAllowed, atomic, fire, lock
from portal.models import Subscription, Transition
from tests.factories import make_subscription


def test_conflicting_events_at_once_let_exactly_one_win(app):
    sub_id = make_subscription(status="pending").id
    both_locked_or_waiting = threading.Barrier(2)
    outcomes = {}

    def attempt(event, extra):
        with app.app_context():
            try:
                both_locked_or_waiting.wait(timeout=10)
                with atomic():
                    row = lock(Subscription, sub_id)
                    # Hold the lock long enough that the other session must queue behind it.
                    db.session.execute(select(db.func.pg_sleep(0.3)))
                    fire(row, event, actor=f"test:{event}", **extra)
                outcomes[event] = "won"
            except TransitionNotAllowed as exc:
                outcomes[event] = f"refused: {exc}"
            finally:
                db.session.remove()

    start = clock.now()
    threads = [
        threading.Thread(target=attempt, args=("activate", {"period_start": start,
                                                            "period_end": start + timedelta(days=30)})),
        threading.Thread(target=attempt, args=("expire", {})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(o.split(":")[0] for o in outcomes.values()) == ["refused", "won"], outcomes
    winner = next(e for e, o in outcomes.items() if o == "won")
    db.session.expire_all()
    final = db.session.get(Subscription, sub_id).status
    assert final == {"activate": "active", "expire": "expired"}[winner]
    timeline = db.session.scalars(select(Transition).where(Transition.entity_id == sub_id)).all()
    assert [(t.event, t.to_state) for t in timeline] == [(winner, final)]


def test_a_row_locked_once_is_not_asked_for_again_in_the_same_transaction(app):
    from sqlalchemy import event

    from portal.machines import lock_all

    ids = [make_subscription(status="active").id for _ in range(3)]
    seen = []
    # The statements that lock subscriptions (sandbox mode also reads the test clocks once per transaction).
    counter = lambda *args: seen.append(args[2]) if "FROM test_clocks" not in args[2] else None  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        with atomic():
            held = lock_all(Subscription, ids)
            assert all(lock(Subscription, i) is held[i] for i in ids)
        assert len(seen) == 1 and "FOR UPDATE" in seen[0]
        with atomic():  # a new transaction holds nothing yet
            lock(Subscription, ids[0])
        assert len(seen) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
