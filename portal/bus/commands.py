"""Commands other services send billing over RabbitMQ: their schemas and what each one does.

A handler runs inside the consumer's database transaction (the one that records the bus inbox row), so
the inbox row and the effect commit together. It calls the same service functions the web side uses;
billing services are imported lazily so this module loads before (and without) them."""
from dataclasses import dataclass

from jsonschema.exceptions import best_match

from portal.bus import schemas


class CommandRejected(Exception):
    """The command can never succeed as sent (bad shape, unknown customer, …): it goes to the DLQ."""


@dataclass(frozen=True)
class CommandContext:
    message_id: str
    command: str

    @property
    def actor(self) -> str:
        return f"bus:{self.message_id}"

    @property
    def cause(self) -> str:
        return f"{self.command} {self.message_id}"


def validate(command: str, payload) -> dict:
    """The payload checked against the command's published schema, defaults filled in."""
    if command not in HANDLERS:
        raise CommandRejected(f"unknown command {command!r}")
    error = best_match(schemas.command_validator(command).iter_errors(payload))
    if error is not None:
        where = error.json_path if error.path else "$"
        raise CommandRejected(f"schema: {error.message} at {where}")
    defaults = {k: v["default"] for k, v in schemas.command_schema(command)["properties"].items() if "default" in v}
    return {**defaults, **payload}


def domain_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this command is wrong", as opposed to "something is down"."""
    from statemachine.exceptions import TransitionNotAllowed

    errors: tuple = (CommandRejected, LookupError, ValueError, TransitionNotAllowed)
    try:
        from portal.billing.errors import BillingError
    except ImportError:  # the billing services are not installed in this build yet
        return errors
    return (*errors, BillingError)


def upsert_customer(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.customers import upsert_customer as upsert

    upsert(payload["external_id"], payload["email"], payload.get("name"),
           mail={k: payload[k] for k in ("billing_mail", "locale", "time_zone") if k in payload})


def cancel_subscription(payload: dict, ctx: CommandContext) -> None:
    from portal.billing import cancellation

    if "subscription_id" in payload:
        cancellation.request_cancel(payload["subscription_id"], payload["when"], actor=ctx.actor, cause=ctx.cause)
    else:
        cancellation.cancel_customer_subscriptions(
            payload["customer_external_id"], payload["when"], actor=ctx.actor, cause=ctx.cause
        )


def grant_subscription(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.grants import grant_days

    grant_days(payload["customer_external_id"], payload["plan_code"], payload["days"],
               actor=ctx.actor, cause=ctx.cause)


def pause_subscription(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.pauses import request_pause

    request_pause(payload["subscription_id"], payload["months"], actor=ctx.actor, cause=ctx.cause)


def resume_subscription(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.pauses import request_resume

    request_resume(payload["subscription_id"], actor=ctx.actor, cause=ctx.cause)


def change_plan(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.plan_change import request_plan_change

    request_plan_change(payload["subscription_id"], payload["plan"], payload.get("when"), actor=ctx.actor,
                        cause=ctx.cause)


def move_price(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.prices import move_to_plan_price
    from portal.machines import atomic

    with atomic():  # joins the consumer's transaction: the inbox row and the move commit together
        move_to_plan_price(payload["subscription_id"], actor=ctx.actor, cause=ctx.cause)


def open_checkout(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.pay_requests import request_checkout_of

    request_checkout_of(payload["customer_external_id"], payload["plan"])


def replace_card(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.pay_requests import request_card_check

    request_card_check(payload["subscription_id"])


def forget_customer(payload: dict, ctx: CommandContext) -> None:
    from portal.billing.customers import forget_customer as forget

    forget(payload["external_id"], actor=ctx.actor, cause=ctx.cause)


HANDLERS = {
    "customer.upsert": upsert_customer,
    "customer.deleted": forget_customer,
    "subscription.cancel": cancel_subscription,
    "subscription.grant": grant_subscription,
    "subscription.pause": pause_subscription,
    "subscription.resume": resume_subscription,
    "subscription.change_plan": change_plan,
    "subscription.move_price": move_price,
    "subscription.checkout": open_checkout,
    "subscription.replace_card": replace_card,
}


def handle(command: str, payload: dict, ctx: CommandContext) -> None:
    HANDLERS[command](payload, ctx)
