"""Debian's Chromium driven by Playwright, as every browser test launches it."""

import contextlib
import re

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def chromium(sync_api):
    """A launched browser for a module's tests, closed after them."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Chromium writes a line to the console for every answer of status 400 or above, whoever asked. A refused form
# (422, what to fix) or a refused state change (409, why not) is the answer the portal must give, so that line is
# the browser reporting the status, not a fault of the page; any other status (unless the test provokes it: a
# broken link is a 400), a script error, a CSP refusal or htmx's own error log (it logs only 5xx here:
# templates/base.html) is one.
REFUSALS = (409, 422)


def console_errors(messages, refusals=REFUSALS):
    """What a page wrote to its console as errors, but the browser's own line for a refusal the portal must give."""
    line = re.compile(rf"^Failed to load resource: the server responded with a status of "
                      rf"({'|'.join(str(status) for status in refusals)}) ")
    return [text for text in messages if not line.match(text)]
