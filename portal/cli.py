"""Operator commands: the demo catalogue and accounts for real deployments."""
import secrets

import click
from flask import current_app

from portal.accounts import ensure_user, find_by_email, set_password
from portal.catalog.service import ensure_demo_catalogue
from portal.extensions import db
from portal.money import format_money

DEMO_CUSTOMER = "customer@demo.cinema"
DEMO_STAFF = "staff@demo.cinema"


def init_app(app):
    from portal.bench_data import bench_data
    from portal.bus import cli as bus_cli

    app.cli.add_command(seed_demo)
    app.cli.add_command(reconcile_entitlements)
    app.cli.add_command(create_user)
    bus_cli.init_app(app)
    app.cli.add_command(bench_data)


def _demo_password(role: str) -> str:
    # The embedded default is a local demo on a SQLite file: fixed, printed passwords make it usable.
    # Anywhere else a demo account gets a random one, shown once.
    if current_app.config["EMBEDDED"]:
        return f"demo-{role}-2026"
    return secrets.token_urlsafe(12)


@click.command("seed-demo")
def seed_demo():
    """Create the demo catalogue, a demo customer and a staff user (idempotent)."""
    plans = ensure_demo_catalogue()
    for plan in plans:
        click.echo(f"plan {plan.code:8} {format_money(plan.amount, plan.currency, 'en')} per {plan.interval_unit}"
                   + (f", {plan.trial_days}-day trial" if plan.trial_days else ""))
    for email, role in ((DEMO_CUSTOMER, "customer"), (DEMO_STAFF, "staff")):
        password = _demo_password(role)
        external_id = "demo-customer" if role == "customer" else None
        user, created = ensure_user(email, password=password, role=role, external_id=external_id, verified=True)
        shown = password if created or current_app.config["EMBEDDED"] else "(unchanged)"
        click.echo(f"{role:8} login {email} password {shown}")
    db.session.commit()
    if current_app.config["EMBEDDED"] and not current_app.config.get("SMTP_URL"):
        click.echo("mail     no SMTP_URL: mails are kept under instance/mail/ and listed at /dev/mail")


@click.command("reconcile-entitlements")
def reconcile_entitlements():
    """Compare every customer's entitlement row with their subscriptions and rewrite the ones that disagree
    (none should: after data was loaded or changed around the application)."""
    from portal.billing.entitlement import reconcile_entitlements as reconcile

    repaired = reconcile()
    shown = ", ".join(map(str, repaired[:20])) + (", ..." if len(repaired) > 20 else "")
    click.echo(f"entitlements rewritten: {len(repaired)}" + (f" (customers {shown})" if repaired else ""))


@click.command("create-user")
@click.argument("email")
@click.option("--staff", is_flag=True, help="Give the account the staff role.")
@click.option("--name", default="", help="Display name.")
@click.option("--external-id", default=None, help="The platform auth service's id for this person.")
@click.option("--password", envvar="NEW_USER_PASSWORD", default=None,
              help="Password (or NEW_USER_PASSWORD); a random one is generated and printed when omitted.")
@click.option("--reset-password", is_flag=True, help="Set a new password on an existing account.")
def create_user(email, staff, name, external_id, password, reset_password):
    """Create a customer or staff account (idempotent: an existing account is reported, not duplicated)."""
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        user = find_by_email(email)
        if user is None:
            user, _ = ensure_user(email, password=password, role="staff" if staff else "customer",
                                  name=name, external_id=external_id, verified=True)
            click.echo(f"created {user.role} {user.email}")
        elif reset_password:
            set_password(user, password)
            click.echo(f"password reset for {user.email}")
        else:
            click.echo(f"{user.email} already exists ({user.role}); nothing changed")
            return
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    db.session.commit()
    if generated:
        click.echo(f"password {password}")
