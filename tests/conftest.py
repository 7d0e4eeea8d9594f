from __future__ import annotations

import os

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh, empty data home for one test."""
    monkeypatch.setenv("DATASPACE_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture(scope="session")
def demo_home_built(tmp_path_factory):
    """One synthetic demo space (`dataspace build --demo`) built once per test session. Read it, don't write it."""
    from data_products.pipeline import build_demo

    home = tmp_path_factory.mktemp("demo-home")
    old = os.environ.get("DATASPACE_HOME")
    os.environ["DATASPACE_HOME"] = str(home)
    try:
        build_demo(seed=2024, log=lambda *a: None)
    finally:
        if old is None:
            os.environ.pop("DATASPACE_HOME", None)
        else:
            os.environ["DATASPACE_HOME"] = old
    return home


@pytest.fixture
def demo(demo_home_built, monkeypatch):
    """The session's demo space, as DATASPACE_HOME for this test."""
    monkeypatch.setenv("DATASPACE_HOME", str(demo_home_built))
    return demo_home_built


def signed_in(username: str):
    """A demo user's principal (argon2 sign-in against the current DATASPACE_HOME)."""
    from data_products.governance import demo_passwords, sign_in

    result = sign_in(username, demo_passwords()[username])
    assert result.ok, result.reason
    return result.principal
