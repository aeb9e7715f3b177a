"""A user may change their mind: the pairs follow their latest verdict on each candidate, and a failed
or stopped candidate cannot be judged at all."""

import pytest

from feedback.models import Feedback, PreferencePair
from feedback.pairs import record_pair
from feedback.services import NOT_JUDGEABLE, InvalidFeedback, record_verdict
from generation.models import Generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(make_generation):
    first = make_generation(raw_output="first try")
    second = make_generation(first.turn, raw_output="second try", candidate=2)
    return first, second


def pairs():
    return sorted(
        (pair.chosen_generation_id, pair.rejected_generation_id, pair.source)
        for pair in PreferencePair.objects.all()
    )


def test_rejecting_the_other_candidate_after_an_accept_makes_it_accept_vs_reject(owner, two):
    first, second = two
    record_verdict(user=owner, generation=first, verdict="accept")
    assert pairs() == [(first.id, second.id, "regenerate")]

    record_verdict(user=owner, generation=second, verdict="reject")

    assert pairs() == [(first.id, second.id, "accept_vs_reject")]
    assert PreferencePair.objects.get().feedback.verdict == "reject"


def test_rejecting_what_was_accepted_withdraws_its_pairs(owner, two):
    first, second = two
    record_verdict(user=owner, generation=first, verdict="accept")

    record_verdict(user=owner, generation=first, verdict="reject")

    assert pairs() == []


def test_accepting_what_was_rejected_undoes_the_pair_against_it(owner, two):
    first, second = two
    record_verdict(user=owner, generation=first, verdict="accept")
    record_verdict(user=owner, generation=second, verdict="reject")

    record_verdict(user=owner, generation=second, verdict="accept")

    assert pairs() == []  # both accepted: no preference between them


def test_switching_the_accept_to_the_other_candidate_turns_the_pair_around(owner, two):
    first, second = two
    record_verdict(user=owner, generation=first, verdict="accept")

    record_verdict(user=owner, generation=first, verdict="reject")
    record_verdict(user=owner, generation=second, verdict="accept")

    assert pairs() == [(second.id, first.id, "accept_vs_reject")]


def test_a_change_of_verdict_leaves_a_repair_pair_alone(owner, two):
    first, second = two
    record_pair(chosen=second, rejected=first, source="repair")

    record_verdict(user=owner, generation=first, verdict="accept")
    record_verdict(user=owner, generation=first, verdict="reject")

    assert pairs() == [(second.id, first.id, "repair")]


@pytest.mark.parametrize("status", [Generation.Status.FAILED, Generation.Status.CANCELLED])
def test_a_failed_or_stopped_candidate_cannot_be_accepted_or_rejected(owner, make_generation, status):
    failed = make_generation(status=status)
    make_generation(failed.turn, candidate=2)

    for verdict in ("accept", "reject"):
        with pytest.raises(InvalidFeedback) as refused:
            record_verdict(user=owner, generation=failed, verdict=verdict)
        assert str(refused.value) == NOT_JUDGEABLE

    assert Feedback.objects.count() == 0
    assert PreferencePair.objects.count() == 0
