"""Fixtures for the review tests (the output files are made in review_factories.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from review_factories import write_output


@pytest.fixture
def output(tmp_path, monkeypatch) -> Path:
    """plays.csv in a folder that is also the working folder (sources are relative, as typed)."""
    monkeypatch.chdir(tmp_path)
    return write_output(tmp_path)
