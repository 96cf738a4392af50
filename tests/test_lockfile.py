"""uv.lock resolves every package to one version, so the tests run the code production runs,
whatever Python version a machine has."""

from __future__ import annotations

import tomllib
from collections import defaultdict

from services.config import ROOT


def test_every_locked_package_has_one_version():
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    versions: dict[str, set[str]] = defaultdict(set)
    for package in lock["package"]:
        versions[package["name"]].add(package.get("version", ""))
    split = {name: sorted(v) for name, v in versions.items() if len(v) > 1}
    assert split == {}, f"pin these in pyproject.toml to one version for all Pythons: {split}"
