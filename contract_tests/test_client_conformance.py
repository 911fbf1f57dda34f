"""Client conformance: ``pytest contract_tests --camb-client package.module:function``.

Each property of :mod:`mockcamb.conformance` is one test; a failure shows the smallest task
life hypothesis found and every request the client sent. ``--camb-conformance-relax NAME``
drops a property (``politeness``, or its number) or changes a setting (``min-interval=0.5``,
``permanent-retries=10``, ``examples=50``, ``seed=7``); repeatable. Without a client, skipped.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from mockcamb.conformance import (
    PROPERTIES,
    ConformanceConfig,
    Harness,
    load_client,
    relax,
)
from mockcamb.core.errors import MockCambError
from mockcamb.virtual_time import patched


@pytest.fixture(scope="module")
def conformance_config(request: pytest.FixtureRequest) -> ConformanceConfig:
    items = request.config.getoption("camb_conformance_relax", default=None) or []
    try:
        cfg = relax(ConformanceConfig(), items)
    except MockCambError as exc:
        raise pytest.UsageError(f"--camb-conformance-relax: {exc}") from None
    if cfg.seed is None:
        cfg = relax(cfg, [f"seed={random.SystemRandom().randrange(2**32)}"])
    return cfg


@pytest.fixture(scope="module")
def conformance_harness(
    request: pytest.FixtureRequest, conformance_config: ConformanceConfig
) -> Iterator[Harness]:
    target = request.config.getoption("camb_client", default=None)
    if not target:
        pytest.skip(
            "no client to check: pass --camb-client package.module:function (or set CAMB_CLIENT)"
        )
    try:
        client = load_client(target)
        harness = Harness(client, conformance_config)  # checks the families it declares
    except MockCambError as exc:
        raise pytest.UsageError(f"--camb-client: {exc}") from None
    with patched(), harness:
        yield harness


@pytest.mark.parametrize("name", [p.name for p in PROPERTIES])
def test_client_conforms(
    name: str, conformance_harness: Harness, conformance_config: ConformanceConfig
) -> None:
    if name not in conformance_config.properties:
        pytest.skip(f"{name}: relaxed by --camb-conformance-relax")
    seed = conformance_config.seed
    assert seed is not None
    finding = conformance_harness.search(name, seed)
    if finding is not None:
        pytest.fail(
            f"{finding.format()}\n  (reproduce with --camb-conformance-relax seed={seed})",
            pytrace=False,
        )
