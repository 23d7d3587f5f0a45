"""Background jobs and the processes that run them. Imports portal; portal never imports this."""
from functools import cache, wraps

from flask import has_app_context

from portal.ops import context


@cache
def worker_app():
    from portal import create_app

    return create_app()


def job(fn):
    """Run a job function inside an application context: the caller's when there is one (embedded,
    tests), else the worker process's own app, created once."""

    @wraps(fn)
    def run(*args, **kwargs):
        context.start_job()
        if has_app_context():
            return fn(*args, **kwargs)
        with worker_app().app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                from portal.extensions import db

                db.session.remove()

    return run
