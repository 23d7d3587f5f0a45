"""Routes of the plan catalogue."""
from flask import render_template

from portal.catalog import bp
from portal.catalog.service import active_plans, yearly_price


@bp.get("/")
def index():
    plans = active_plans()
    return render_template("catalog/index.html", plans=plans, yearly={p.id: yearly_price(p, plans) for p in plans})
