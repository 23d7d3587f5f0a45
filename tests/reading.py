"""What a reader of the page's language stumbles on in a page as the browser shows it: words of the other language,
a date written in a style other than the one of the language, a time without its zone, "№" on an English page, a
price's "per month" broken over two lines. The browser tests' walks call it on every page at every width.

Words of the other language: on an English page, any Cyrillic; on a Russian page, any phrase of the Russian
catalogue left as its English source (a string that reached the page without its translation)."""
import re
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

CATALOG = Path(__file__).resolve().parents[1] / "portal/translations/ru/LC_MESSAGES/messages.po"
CYRILLIC = re.compile(r"[А-Яа-яЁё][А-Яа-яЁё\s,.«»—-]*")
# The one date style per language is the long one ("7 декабря 2026", "December 7, 2026"); these are the others.
OTHER_DATE_STYLES = re.compile(r"\b\d{1,2}\.\d{1,2}\.\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
                               r"|\b\d{1,2} (янв|фев|мар|апр|мая|июн|июл|авг|сен|окт|ноя|дек)\."
                               r"|\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.? \d")
# A moment of the day is followed by the zone it is in.
TIME = re.compile(r"(?<![\d:+-])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])(?!\s*\((мск|Moscow time|GMT[+-]\d{2}:\d{2})\))")

# The page's text as shown, but what is marked as another language (the language switch says "Русский" in Russian,
# a mail's subject is in the customer's language) or as never to be translated (a notification as it was received).
VISIBLE_TEXT = """() => {
  const own = document.documentElement.lang;
  return Array.from(document.body.querySelectorAll('[lang], [translate=no]'))
    .filter(el => el.getAttribute('translate') === 'no' || !el.lang.startsWith(own))
    .reduce((text, el) => text.split(el.innerText).join(' '), document.body.innerText);
}"""
# Each price's period ("per month", "в месяц"), as lines on the screen: more than one is a broken price.
BROKEN_PERIODS = """() => Array.from(document.querySelectorAll('.period'))
    .filter(el => el.offsetParent !== null && el.getClientRects().length > 1).map(el => el.textContent.trim())"""


@cache
def _untranslated_phrases():
    """The catalogue's English sources that a Russian page must never show as such: whole phrases without
    placeholders, whose translation differs (not a brand or a code), of two words at least."""
    catalog = read_po(CATALOG.open("rb"))
    phrases = set()
    for message in catalog:
        if not message.id or not message.string or message.pluralizable:
            continue
        if "%" in message.id or "<" in message.id or message.string == message.id:
            continue
        text = message.id.strip(" .:…")
        if len(text.split()) >= 2 and re.search("[A-Za-z]", text):
            phrases.add(text)
    return re.compile("|".join(rf"(?<![A-Za-z]){re.escape(p)}(?![A-Za-z])"
                               for p in sorted(phrases, key=len, reverse=True)))


def reading_problems(page, language, label):
    """One line per stumble in the page as it is now, named by label."""
    text = page.evaluate(VISIBLE_TEXT)
    problems = []
    if language == "en":
        problems += [f"{label}: Russian on an English page: {m.group(0).strip()!r}" for m in CYRILLIC.finditer(text)]
        if "№" in text:
            problems.append(f"{label}: '№' on an English page")
    else:
        problems += [f"{label}: untranslated on a Russian page: {m.group(0)!r}"
                     for m in _untranslated_phrases().finditer(text)]
    problems += [f"{label}: a date in another style: {m.group(0)!r}" for m in OTHER_DATE_STYLES.finditer(text)]
    problems += [f"{label}: a time without its zone: {_around(text, m)!r}" for m in TIME.finditer(text)]
    problems += [f"{label}: a price's period over two lines: {p!r}" for p in page.evaluate(BROKEN_PERIODS)]
    return problems


def _around(text, match, width=30):
    return text[max(0, match.start() - width):match.end() + width].replace("\n", " ")
