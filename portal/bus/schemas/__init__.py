"""The published message schemas (JSON Schema 2020-12): commands we accept and events we emit."""
import json
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

HERE = Path(__file__).resolve().parent
COMMANDS_DIR, EVENTS_DIR = HERE / "commands", HERE / "events"


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def command_names() -> list[str]:
    return sorted(p.stem for p in COMMANDS_DIR.glob("*.json"))


@cache
def command_schema(name: str) -> dict:
    if name not in command_names():
        raise KeyError(name)
    return _read(COMMANDS_DIR / f"{name}.json")


@cache
def event_schema(routing_key: str) -> dict:
    """The schema for an event, by its routing key's family (subscription.*, payment.*, refund.*)."""
    family = routing_key.split(".", 1)[0]
    path = EVENTS_DIR / f"{family}.json"
    if family == "envelope" or not path.exists():
        raise KeyError(routing_key)
    return _read(path)


@cache
def _registry() -> Registry:
    resources = [(schema["$id"], Resource.from_contents(schema))
                 for schema in (_read(p) for p in sorted(HERE.glob("*/*.json")))]
    # Relative $refs (envelope.json) resolve against each schema's $id.
    return Registry().with_resources(resources)


@cache
def command_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(command_schema(name), registry=_registry(), format_checker=FormatChecker())


@cache
def event_validator(routing_key: str) -> Draft202012Validator:
    return Draft202012Validator(event_schema(routing_key), registry=_registry(), format_checker=FormatChecker())


def all_schemas() -> dict[str, dict]:
    """Every published schema keyed by its path under schemas/ (e.g. "commands/customer.upsert")."""
    return {f"{p.parent.name}/{p.stem}": _read(p) for p in sorted(HERE.glob("*/*.json"))}
