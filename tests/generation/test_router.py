"""Routing: by weight, reproducible from the turn's seed, two different versions for a comparison."""

from collections import Counter

import pytest

from generation.models import ModelVersion
from generation.router import NoModelAvailable, pick_model_version, pick_model_versions

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(db):
    ModelVersion.objects.all().delete()
    return {
        "specialist": ModelVersion.objects.create(name="specialist", base_model="kiln-7b", adapter="round-3", weight=3),
        "generalist": ModelVersion.objects.create(name="generalist", base_model="big-model", weight=1),
        "retired": ModelVersion.objects.create(name="retired", base_model="old", weight=5, is_active=False),
    }


def test_the_same_seed_always_picks_the_same_version(versions):
    assert {pick_model_version(seed=42).name for _ in range(20)} == {pick_model_version(seed=42).name}


def test_traffic_follows_the_weights_and_skips_inactive_versions(versions):
    picks = Counter(pick_model_version(seed=seed).name for seed in range(4000))
    assert "retired" not in picks
    assert 0.70 < picks["specialist"] / 4000 < 0.80


def test_a_comparison_gets_two_different_versions(versions):
    for seed in range(200):
        first, second = pick_model_versions(seed=seed, count=2)
        assert first != second


def test_a_comparison_with_one_active_version_uses_it_twice(versions):
    versions["generalist"].is_active = False
    versions["generalist"].save()
    assert [v.name for v in pick_model_versions(seed=1, count=2)] == ["specialist", "specialist"]


def test_no_active_version_gets_a_clear_message(versions):
    ModelVersion.objects.update(is_active=False)
    with pytest.raises(NoModelAvailable, match="No model is active"):
        pick_model_version(seed=1)


def test_a_lora_adapter_is_requested_by_its_own_name(versions):
    assert versions["specialist"].request_model_name == "round-3"
    assert versions["generalist"].request_model_name == "big-model"
