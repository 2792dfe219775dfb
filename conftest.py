"""Project-wide pytest options: long runs sit behind ``--full``."""

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--full"):
        return
    skip = pytest.mark.skip(reason="long run: use --full (make test-full)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
