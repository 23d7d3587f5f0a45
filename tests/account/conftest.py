"""The account pages' tests reuse the whole-flow fixtures: the sandbox over HTTP and real RQ workers."""
import pytest

from tests.flows.conftest import billing  # noqa: F401  (the fixture, under its own name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets the browser fixture know whether the test failed, to keep a screenshot of it.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)
