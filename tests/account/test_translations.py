"""Every customer-facing string of these pages has its Russian translation, and the compiled catalogue
matches its source. After changing strings:
  pybabel extract -F portal/translations/babel.cfg -k _l -k lazy_gettext -k _ --no-location --sort-output \
      -o portal/translations/messages.pot .
  pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching
  (translate) ; pybabel compile -d portal/translations"""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "portal/translations/ru/LC_MESSAGES"
# The customer pages' own sources, and the staff pages'.
SOURCES = ["templates/auth", "templates/account", "templates/catalog", "templates/errors", "portal/auth",
           "portal/account", "templates/mail", "portal/mail"]
STAFF_SOURCES = ["templates/admin", "templates/ops", "portal/admin"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3)}


def _ids(directory):
    """(context, id) of every string marked for translation under the directory."""
    method = "jinja2" if directory.startswith("templates") else "python"
    pattern = "**.html" if method == "jinja2" else "**.py"
    for _, _, message, _, context in extract_from_dir(ROOT / directory, [(pattern, method)], keywords=KEYWORDS):
        yield context, message[0] if isinstance(message, tuple) else message


def _untranslated(ids):
    catalog = read_po((CATALOG / "messages.po").open("rb"))
    return sorted(f"{context}|{message}" if context else message for context, message in ids
                  if not (catalog.get(message, context=context) and catalog.get(message, context=context).string))


def test_every_string_of_the_customer_pages_is_translated_to_russian():
    missing = _untranslated({m for d in SOURCES for m in _ids(d)} | set(_ids_in_base()))
    assert not missing, "untranslated: " + "; ".join(missing)


def test_every_string_of_the_staff_pages_is_translated_to_russian():
    missing = _untranslated({m for d in STAFF_SOURCES for m in _ids(d)})
    assert not missing, "untranslated: " + "; ".join(missing)


def _ids_in_base():
    from babel.messages.extract import extract_from_file

    for _, message, _, context in extract_from_file("jinja2", ROOT / "templates/base.html", keywords=KEYWORDS):
        yield context, message


def test_the_compiled_catalogue_matches_its_source():
    source = read_po((CATALOG / "messages.po").open("rb"))
    compiled = read_mo((CATALOG / "messages.mo").open("rb"))
    def table(catalog):
        # Keyed by context and id: one English word may read differently per context (pgettext).
        return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)): m.string if isinstance(m.string, str)
                else tuple(m.string) for m in catalog if m.id and m.string}

    wanted, have = table(source), table(compiled)
    assert have == wanted, "run: pybabel compile -d portal/translations"
