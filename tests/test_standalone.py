"""The repository stands alone: what the tests need is inside it, and a copy of it placed in an
empty folder (nothing beside it) runs its tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate

from .fakes.openapi_check import SPEC_PATH

ROOT = Path(__file__).resolve().parents[1]
#: what a clone does not have, or what a run leaves behind
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "*.db*",
    "*.egg-info", "build", "dist",
)  # fmt: skip


def test_the_trimmed_3cx_spec_is_valid_and_has_what_the_bot_calls() -> None:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))

    validate(spec)  # a valid OpenAPI 3.0 document: every $ref resolves inside it
    assert SPEC_PATH.is_relative_to(ROOT)
    for path in ("/Blocklist", "/Blocklist({Id})", "/BlackListNumbers", "/BlackListNumbers({Id})"):
        assert path in spec["paths"]
    assert spec["components"]["securitySchemes"]["Application"]["flows"]["clientCredentials"]["tokenUrl"] == (
        "/connect/token"
    )
    assert "Pbx.ODataErrors.ODataError" in spec["components"]["schemas"]


@pytest.mark.long(8)
def test_a_copy_placed_alone_runs_the_tests_that_use_the_copied_data(tmp_path: Path) -> None:
    alone = tmp_path / "alone" / "repo"
    shutil.copytree(ROOT, alone, ignore=NOT_COPIED)
    assert sorted(p.name for p in alone.parent.parent.iterdir()) == ["alone"]
    env = {**os.environ, "PYTHONPATH": str(alone), "PYTHONDONTWRITEBYTECODE": "1"}

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "tests/test_manifest.py", "tests/test_fake_threecx.py"],
        cwd=alone, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import bot, tests; print(bot.__file__); print(tests.__file__)"],
        cwd=alone, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert all(Path(line).is_relative_to(alone) for line in where.stdout.split())
