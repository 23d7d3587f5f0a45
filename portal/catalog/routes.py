"""Routes of the plan catalogue."""
from flask import render_template

from portal.catalog import bp
from portal.catalog.service import active_plans


@bp.get("/")
def index():
    return render_template("catalog/index.html", plans=active_plans())
