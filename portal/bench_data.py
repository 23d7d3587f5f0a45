"""`flask bench-data`: bulk rows for the benchmarks (bench/README.md), generated inside PostgreSQL.

Rows are made with INSERT ... SELECT over generate_series, so a million invoices take seconds, not
the hours one ORM object at a time would. Every call adds rows (ids continue after the largest one),
so the harness grows one database from its small to its large shape. Never run it on real data."""
import click
from flask import current_app
from sqlalchemy import text

from portal.extensions import db
from portal.models import Plan, User
from portal.models.entitlement import write_entitlements
from portal.models.numbering import number_unnumbered
from portal.models.types import EncryptedJson, _fernet, seal, token_fingerprint
from portal.providers import get_provider

BENCH_PLAN = "bench-monthly"
CARD = ("400000", "3055", "Visa", "12/30")


def _next_id(table: str) -> int:
    return db.session.scalar(text(f"SELECT COALESCE(max(id), 0) FROM {table}"))


def _sync_sequence(table: str) -> None:
    db.session.execute(text(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(max(id), 1) FROM {table}))"))


def _plan() -> Plan:
    plan = db.session.scalar(db.select(Plan).where(Plan.code == BENCH_PLAN))
    if plan is None:
        plan = Plan(code=BENCH_PLAN, name_ru="Месячная (стенд)", name_en="Bench monthly",
                    description_ru="тариф для замеров", description_en="benchmark plan", amount=29900,
                    currency="RUB", interval_unit="month", interval_count=1, trial_days=0, status="active")
        db.session.add(plan)
        db.session.flush()
    return plan


def _customers(count: int) -> int:
    """`count` customers; returns the id before the first. Email and external id follow the id."""
    u0 = _next_id("users")
    db.session.execute(text("""
        INSERT INTO users (id, email, name, password_hash, role, external_id, created_at)
        SELECT :u0 + i, 'customer' || (:u0 + i) || '@bench.invalid', 'Bench customer ' || (:u0 + i), NULL,
               'customer', 'bench-' || (:u0 + i), now() - interval '400 days'
        FROM generate_series(1, :n) AS i"""), {"u0": u0, "n": count})
    return u0


def _cards(u0: int, count: int, tokens: list[str], provider: str) -> int:
    """One saved card per customer u0+1..u0+count, cycling through `tokens`. Returns the id before the first."""
    pm0 = _next_id("payment_methods")
    fernet = _fernet()
    for k, token in enumerate(tokens):
        # Fernet ciphertexts differ per call but all decrypt to the token: one per token is enough.
        db.session.execute(text("""
            INSERT INTO payment_methods (id, user_id, provider, token, token_fingerprint, card_first_six,
                                         card_last_four, card_type, card_exp, created_at)
            SELECT :pm0 + i, :u0 + i, :provider, :cipher, :fingerprint, :six, :four, :type, :exp, now()
            FROM generate_series(1, :n) AS i WHERE i % :every = :k"""),
            {"pm0": pm0, "u0": u0, "n": count, "provider": provider, "every": len(tokens), "k": k % len(tokens),
             "cipher": fernet.encrypt(token.encode()).decode(), "fingerprint": token_fingerprint(token),
             "six": CARD[0], "four": CARD[1], "type": CARD[2], "exp": CARD[3]})
    return pm0


def _subscriptions(u0: int, pm0: int | None, count: int, plan: Plan, status: str, period_end_sql: str) -> int:
    s0 = _next_id("subscriptions")
    start = "NULL" if period_end_sql == "NULL" else f"({period_end_sql}) - interval '1 month'"
    card = "NULL" if pm0 is None else f"{int(pm0)} + i"
    db.session.execute(text(f"""
        INSERT INTO subscriptions (id, customer_id, plan_id, status, amount, currency, current_period_start,
                                   current_period_end, cancel_at_period_end, payment_method_id, created_at,
                                   updated_at)
        SELECT :s0 + i, :u0 + i, :plan, :status, :amount, :currency, {start}, {period_end_sql}, false, {card},
               now() - interval '400 days', now()
        FROM generate_series(1, :n) AS i"""),
        {"s0": s0, "u0": u0, "n": count, "plan": plan.id, "status": status,
         "amount": plan.amount, "currency": plan.currency})
    return s0


def _history(s0: int, u0: int, subs: int, invoices: int, provider: str) -> None:
    """`invoices` paid invoices spread evenly over subscriptions s0+1..s0+subs (newest first per
    subscription: an initial one, then monthly renewals going back), each with its completed payment,
    the processed Pay notification that reported it and the invoice's transition row."""
    i0, p0, w0, t0 = (_next_id(t) for t in ("invoices", "payments", "webhook_events", "transitions"))
    # j-th invoice: subscription s0 + 1 + (j-1) % subs, k-th period back where k = (j-1) / subs.
    rows = f"""
        SELECT j, :s0 + 1 + (j - 1) % :subs AS sub, :u0 + 1 + (j - 1) % :subs AS cust, (j - 1) / :subs AS k
        FROM generate_series(1, {int(invoices)}) AS j"""
    # Bodies are encrypted at rest, which SQL cannot do: every bench row shares one sealed sample.
    params = {"s0": s0, "u0": u0, "subs": subs, "i0": i0, "p0": p0, "w0": w0, "t0": t0, "provider": provider,
              "raw": EncryptedJson().process_bind_param({}, None),
              "body": seal(b"TransactionId=900000000&Amount=299.00&Currency=RUB&Status=Completed"
                           b"&OperationType=Payment&CardFirstSix=400000&CardLastFour=3055&CardType=Visa&TestMode=1"
                           b"&Token=tk_bench")}
    db.session.execute(text(f"""
        INSERT INTO invoices (id, subscription_id, customer_id, kind, status, amount, currency, amount_refunded,
                              description, period_start, period_end, attempt_count, paid_at, created_at)
        SELECT :i0 + j, sub, cust, CASE WHEN k = 0 THEN 'initial' ELSE 'renewal' END, 'paid', 29900, 'RUB', 0,
               'Bench monthly', now() - (k + 1) * interval '1 month', now() - k * interval '1 month', 1,
               now() - (k + 1) * interval '1 month', now() - (k + 1) * interval '1 month'
        FROM ({rows}) AS r"""), params)
    db.session.execute(text(f"""
        INSERT INTO payments (id, provider, provider_transaction_id, invoice_id, customer_id, amount, currency,
                              amount_refunded, status, card_first_six, card_last_four, card_type, test_mode,
                              needs_review, raw, created_at)
        SELECT :p0 + j, :provider, (900000000 + :p0 + j)::text, :i0 + j, cust, 29900, 'RUB', 0, 'completed',
               '400000', '3055', 'Visa', true, false, :raw, now() - (k + 1) * interval '1 month'
        FROM ({rows}) AS r"""), params)
    db.session.execute(text(f"""
        INSERT INTO webhook_events (id, provider, kind, transaction_id, invoice_id, status, attempts, content_type,
                                    body, remote_addr, received_at, processed_at)
        SELECT :w0 + j, :provider, 'pay', (900000000 + :p0 + j)::text, (:i0 + j)::text, 'processed', 1,
               'application/x-www-form-urlencoded',
               :body,
               '127.0.0.1', now() - (k + 1) * interval '1 month', now() - (k + 1) * interval '1 month'
        FROM ({rows}) AS r"""), params)
    db.session.execute(text(f"""
        INSERT INTO transitions (id, entity_type, entity_id, from_state, to_state, event, actor, cause, created_at)
        SELECT :t0 + j, 'invoice', :i0 + j, 'open', 'paid', 'pay', 'provider', 'bench-data',
               now() - (k + 1) * interval '1 month'
        FROM ({rows}) AS r"""), params)


def _open_invoices(s0: int, u0: int, count: int, plan: Plan) -> None:
    """The checkout's open initial invoice for each pending subscription s0+1..s0+count."""
    i0 = _next_id("invoices")
    db.session.execute(text("""
        INSERT INTO invoices (id, subscription_id, customer_id, kind, status, amount, currency, amount_refunded,
                              description, attempt_count, checkout_started_at, created_at)
        SELECT :i0 + i, :s0 + i, :u0 + i, 'initial', 'open', :amount, :currency, 0, 'Bench monthly', 0, now(), now()
        FROM generate_series(1, :n) AS i"""),
        {"i0": i0, "s0": s0, "u0": u0, "n": count, "amount": plan.amount, "currency": plan.currency})


@click.command("bench-data")
@click.option("--subscriptions", default=0, help="Customers with one active subscription each.")
@click.option("--invoices", default=0, help="Paid invoices (with payment, notification, transition) over those.")
@click.option("--open-invoices", default=0, help="Pending checkouts, each with its open initial invoice.")
@click.option("--due", default=0, help="Active subscriptions whose period ended a minute ago, with a saved card.")
@click.option("--token", "tokens", multiple=True, help="Provider token(s) for the due subscriptions' cards.")
def bench_data(subscriptions, invoices, open_invoices, due, tokens):
    """Add benchmark rows in bulk (see bench/README.md). Prints the id ranges it made, as key=value."""
    if current_app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+")[0] != "postgresql":
        raise click.UsageError("bench-data generates rows inside PostgreSQL; set DATABASE_URL")
    if invoices and not subscriptions:
        raise click.UsageError("--invoices are spread over the --subscriptions made in the same call")
    if due and not tokens:
        raise click.UsageError("--due subscriptions need at least one --token to charge")
    provider = get_provider().name
    plan = _plan()
    first_new_user = _next_id("users") + 1
    if subscriptions:
        u0 = _customers(subscriptions)
        s0 = _subscriptions(u0, None, subscriptions, plan, "active",
                            "now() + interval '1 day' + (i % 28) * interval '1 day'")
        if invoices:
            _history(s0, u0, subscriptions, invoices, provider)
        click.echo(f"customers={u0 + 1}..{u0 + subscriptions} subscriptions={s0 + 1}..{s0 + subscriptions}")
    if open_invoices:
        u0 = _customers(open_invoices)
        s0 = _subscriptions(u0, None, open_invoices, plan, "pending", "NULL")
        _open_invoices(s0, u0, open_invoices, plan)
        click.echo(f"open_subscriptions={s0 + 1}..{s0 + open_invoices}")
    if due:
        u0 = _customers(due)
        pm0 = _cards(u0, due, list(tokens), provider)
        s0 = _subscriptions(u0, pm0, due, plan, "active", "now() - interval '1 minute'")
        click.echo(f"due_subscriptions={s0 + 1}..{s0 + due}")
    # Rows made around the ORM: their invoices numbered and their customers' entitlements written here, as
    # the ORM's flush and commit would have.
    number_unnumbered(db.session, "invoices", "invoice")
    write_entitlements(db.session.connection(), User.id >= first_new_user)
    for table in ("users", "payment_methods", "subscriptions", "invoices", "payments", "webhook_events",
                  "transitions"):
        _sync_sequence(table)
    db.session.commit()
    # What a database that grew over time has had done to it: statistics for the planner, and the vacuum
    # that autovacuum would otherwise start on these tables in the middle of the next measurement.
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM (ANALYZE)"))
