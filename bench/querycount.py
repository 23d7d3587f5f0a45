"""SQL statements each page issues, counted in-process (stdin: JSON credentials and pages; stdout: JSON counts).
Run by bench/run.py at 1k and at 1M rows: a count that grows with the rows is an N+1."""
import json
import re
import sys

from sqlalchemy import event

from portal import create_app
from portal.extensions import db


def main():
    spec = json.load(sys.stdin)
    app = create_app()
    counts = {}
    with app.app_context():
        for who, (email, password) in spec["credentials"].items():
            client = app.test_client()
            page = client.get("/auth/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
            client.post("/auth/login", data={"email": email, "password": password,
                                             **({"csrf_token": token.group(1)} if token else {})})
            for page_who, name, path, headers in spec["pages"]:
                if page_who != who:
                    continue
                client.get(path, headers=headers)  # warm: first-request work is not the page's
                statements = []

                def count(conn, cursor, statement, *args, statements=statements):
                    statements.append(statement)

                event.listen(db.engine, "before_cursor_execute", count)
                try:
                    status = client.get(path, headers=headers).status_code
                finally:
                    event.remove(db.engine, "before_cursor_execute", count)
                counts[name] = len(statements) if status == 200 else None
    json.dump(counts, sys.stdout)


if __name__ == "__main__":
    main()
