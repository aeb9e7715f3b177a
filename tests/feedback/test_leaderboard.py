"""The leaderboard: a Bradley-Terry fit (scipy) with bootstrap intervals, checked against a fit made
here independently (Hunter's minorise-maximise iteration, plain numpy) on votes with a known ranking."""

import numpy as np
import pytest

from feedback import leaderboard
from builder.review_demo import STRENGTHS, seed
from feedback.leaderboard import TIE, Vote
from feedback.models import PreferencePair

TRUE = {"a": 1.0, "b": 0.4, "c": 0.0, "d": -0.8}
ELO = 400 / np.log(10)


def synthetic_votes(n: int, rng: np.random.Generator) -> list[Vote]:
    names = list(TRUE)
    votes = []
    for _ in range(n):
        i, j = rng.choice(len(names), 2, replace=False)
        first, second = names[i], names[j]
        if rng.random() < 0.1:
            votes.append(Vote(first, second, TIE))
        elif rng.random() < 1 / (1 + np.exp(TRUE[second] - TRUE[first])):
            votes.append(Vote(first, second, 1.0))
        else:
            votes.append(Vote(second, first, 1.0))
    return votes


def mm_fit(votes: list[Vote], names: list[str]) -> np.ndarray:
    """Hunter (2004): p_i <- W_i / sum_j N_ij / (p_i + p_j); a tie is half a win for each side."""
    index = {n: k for k, n in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    for v in votes:
        wins[index[v.first], index[v.second]] += v.outcome
        wins[index[v.second], index[v.first]] += 1 - v.outcome
    games = wins + wins.T
    p = np.ones(len(names))
    for _ in range(5000):
        new = wins.sum(axis=1) / (games / (p[:, None] + p[None, :])).sum(axis=1)
        new /= np.exp(np.log(new).mean())
        if np.max(np.abs(new - p)) < 1e-12:
            break
        p = new
    return np.log(p)


def test_order_scores_and_intervals_match_an_independent_fit():
    rng = np.random.default_rng(42)
    votes = synthetic_votes(3000, rng)
    names = sorted(TRUE)

    ranked = leaderboard.ranking(votes)

    assert [r.version for r in ranked] == ["a", "b", "c", "d"]  # the known ranking
    theta = mm_fit(votes, names)
    for r in ranked:
        assert r.score == pytest.approx(1000 + ELO * theta[names.index(r.version)], abs=0.5)
        assert r.low < r.score < r.high
        # (Not the true strength itself: ties that fall at random, counted as half wins, pull every
        # score towards the middle; the order survives.)
    # Our own bootstrap of the independent fit gives the same intervals, within Monte Carlo noise.
    boot = np.array([mm_fit([votes[k] for k in rng.integers(0, len(votes), len(votes))], names) for _ in range(200)])
    low, high = np.percentile(1000 + ELO * boot, [2.5, 97.5], axis=0)
    for r in ranked:
        k = names.index(r.version)
        width = high[k] - low[k]
        assert r.low == pytest.approx(low[k], abs=0.2 * width)
        assert r.high == pytest.approx(high[k], abs=0.2 * width)
    assert sum(r.votes for r in ranked) == 2 * len(votes)


def test_win_rates_count_ties_as_half_wins():
    votes = [Vote("a", "b", 1.0), Vote("a", "b", 1.0), Vote("b", "a", TIE), Vote("b", "c", 1.0)]
    rates = {w.version: w for w in leaderboard.win_rates(votes)}
    assert (rates["a"].wins, rates["a"].ties, rates["a"].losses, rates["a"].win_rate) == (2, 1, 0, pytest.approx(2.5 / 3))
    assert (rates["b"].wins, rates["b"].ties, rates["b"].losses) == (1, 1, 2)
    assert rates["c"].win_rate == 0


@pytest.mark.django_db
def test_the_page_ranks_the_seeded_versions_and_its_table_matches_the_database(client, staff, settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    seed(turns=6, extra_votes=600)
    excluded = PreferencePair.objects.filter(source="pick").first()
    excluded.review_status = "excluded"
    excluded.save()
    client.force_login(staff)

    response = client.get("/review/leaderboard/")

    ranked = response.context["ranking"]
    assert [r.version for r in ranked] == sorted(STRENGTHS, key=STRENGTHS.get, reverse=True)
    picks = PreferencePair.objects.filter(source="pick").exclude(review_status="excluded")
    assert response.context["vote_count"] == picks.count() + 1  # and the one tie
    for row in response.context["win_rates"]:
        wins = picks.filter(chosen_generation__model_version__name=row.version).count()
        losses = picks.filter(rejected_generation__model_version__name=row.version).count()
        assert (row.wins, row.losses) == (wins, losses)
    page = response.content.decode()
    assert "ties count as half a win" in page
    print("\n".join(f"{r.rank} {r.version} {r.score:.0f} [{r.low:.0f}, {r.high:.0f}] {r.votes} votes" for r in ranked))
