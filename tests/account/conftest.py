"""The account pages' tests reuse the whole-flow fixtures: the sandbox over HTTP and real RQ workers."""
from tests.flows.conftest import billing  # noqa: F401  (the fixture, under its own name)
