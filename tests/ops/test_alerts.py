"""The example alert rules parse, and every metric they watch is one /metrics exposes."""
import re
from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
FUNCTIONS = {"max", "min", "sum", "by", "rate", "increase", "histogram_quantile", "clamp_min", "and", "le",
             "max_over_time", "min_over_time", "reason", "state", "outcome", "status", "humanizeDuration"}


def test_every_alert_watches_a_metric_the_portal_exposes(app, client):
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    exposed = client.get("/metrics").get_data(as_text=True)
    families = set(re.findall(r"^# TYPE (\S+) ", exposed, flags=re.M))
    assert rules
    for rule in rules:
        assert rule["alert"] and rule["annotations"]["summary"] and rule["labels"]["severity"] in ("page", "warn")
        expression = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', "", rule["expr"])
        names = {n for n in re.findall(r"[a-z_][a-z0-9_]*", expression) if n not in FUNCTIONS}
        assert names, rule["alert"]
        for name in names:
            family = re.sub(r"_(bucket|count|sum|total)$", "", name)
            assert name in families or family in families or family + "_total" in families, \
                f"{rule['alert']} watches {name}, which /metrics does not expose"
