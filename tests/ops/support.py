"""Reading Prometheus' text format in tests."""
import re

_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metric(text: str, name: str, **labels) -> float | None:
    """The sum of a metric's samples whose labels include these; None when it has no such sample."""
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            series, sample = line.rsplit(" ", 1)
            found = dict(_LABEL.findall(series))
            if all(found.get(k) == v for k, v in labels.items()):
                total = (total or 0.0) + float(sample)
    return total
