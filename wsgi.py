"""The WSGI entry point: gunicorn serves `wsgi:app`."""
from portal import create_app

app = create_app()
