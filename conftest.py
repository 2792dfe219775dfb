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


@pytest.fixture(scope="session")
def trtrl_cmd() -> list[str]:
    """The `trtrl` command a user types: the console script installed beside this Python."""
    import shutil
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "trtrl"
    if script.is_file():
        return [str(script)]
    found = shutil.which("trtrl")
    if found is None:
        pytest.fail("the trtrl command is not installed (run make setup)")
    return [found]
