"""Model versions ranked by a Bradley-Terry fit over explicit picks, with bootstrap intervals.

Votes: a pair of source "pick" (one of two side-by-side candidates chosen, by a user or by a staff
member's blind vote; a reviewer's relabel has already swapped it) that no reviewer excluded, and a
"tie" verdict between the two side-by-side candidates of a turn. Ties count as half a win for each side. Pairs whose two answers come from the
same model version say nothing about versions and are left out; "both bad" says nothing about the
order and is left out too.

The fit maximises the Bradley-Terry likelihood P(i beats j) = 1 / (1 + exp(θj − θi)) with
scipy.optimize (L-BFGS-B), plus a weak Gaussian prior so that a version that won every one of its votes
gets a finite score. Scores are shown on the Elo scale (1000 + 400·θ/ln 10), θ centred on zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from feedback.models import Feedback, PreferencePair
from generation.models import Generation

TIE = 0.5
PRIOR = 1e-3  # weak: with a few dozen votes its pull on θ is far below the bootstrap interval
BOOTSTRAP_SAMPLES = 200
SEED = 0
ELO_SCALE = 400 / math.log(10)


@dataclass(frozen=True)
class Vote:
    first: str  # model version names; outcome is what the first scored: 1 a win, 0.5 a tie
    second: str
    outcome: float
    from_staff: bool = False  # a reviewer's blind vote (feedback.blind), not a user's


def explicit_votes() -> list[Vote]:
    votes = [
        Vote(chosen, rejected, 1.0, bool(staff))
        for chosen, rejected, staff in PreferencePair.objects.filter(source=PreferencePair.Source.PICK)
        .exclude(review_status=PreferencePair.ReviewStatus.EXCLUDED)
        .order_by("id")
        .values_list("chosen_generation__model_version__name", "rejected_generation__model_version__name",
                     "feedback__from_staff")
        if chosen != rejected
    ]
    ties = list(Feedback.objects.filter(verdict=Feedback.Verdict.TIE, generation__kind=Generation.Kind.COMPARE)
                .order_by("id").values_list("generation_id", "generation__turn_id", "generation__model_version__name",
                                            "from_staff"))
    others: dict[int, list[tuple[int, str]]] = {}
    for generation_id, turn_id, name in (
            Generation.objects.filter(turn_id__in={t for _, t, _, _ in ties}, kind=Generation.Kind.COMPARE)
            .values_list("id", "turn_id", "model_version__name")):
        others.setdefault(turn_id, []).append((generation_id, name))
    for generation_id, turn_id, name, staff in ties:
        votes += [Vote(name, other, TIE, staff) for other_id, other in others.get(turn_id, [])
                  if other_id != generation_id and other != name]
    return votes


def fit(n: int, first: np.ndarray, second: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Bradley-Terry strengths θ (centred) of n players from vote arrays."""

    def loss(theta):
        d = theta[first] - theta[second]
        nll = -np.sum(outcome * log_expit(d) + (1 - outcome) * log_expit(-d)) + PRIOR * theta @ theta / 2
        g_d = -(outcome - expit(d))
        grad = np.bincount(first, g_d, n) - np.bincount(second, g_d, n) + PRIOR * theta
        return nll, grad

    theta = minimize(loss, np.zeros(n), jac=True, method="L-BFGS-B", options={"gtol": 1e-9}).x
    return theta - theta.mean()


@dataclass(frozen=True)
class Ranked:
    rank: int
    version: str
    score: float  # Elo scale
    low: float  # 95 % bootstrap interval, Elo scale
    high: float
    votes: int


def ranking(votes: list[Vote], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = SEED) -> list[Ranked]:
    if not votes:
        return []
    names = sorted({v.first for v in votes} | {v.second for v in votes})
    index = {name: i for i, name in enumerate(names)}
    first = np.array([index[v.first] for v in votes])
    second = np.array([index[v.second] for v in votes])
    outcome = np.array([v.outcome for v in votes], dtype=float)
    theta = fit(len(names), first, second, outcome)
    rng = np.random.default_rng(seed)
    resampled = np.empty((samples, len(names)))
    for b in range(samples):
        pick = rng.integers(0, len(votes), len(votes))  # votes drawn with replacement
        resampled[b] = fit(len(names), first[pick], second[pick], outcome[pick])
    low, high = np.percentile(resampled, [2.5, 97.5], axis=0)
    counts = np.bincount(first, minlength=len(names)) + np.bincount(second, minlength=len(names))
    order = np.argsort(-theta, kind="stable")
    return [
        Ranked(rank + 1, names[i], _elo(theta[i]), _elo(low[i]), _elo(high[i]), int(counts[i]))
        for rank, i in enumerate(order)
    ]


def _elo(theta: float) -> float:
    return 1000 + ELO_SCALE * float(theta)


@dataclass(frozen=True)
class WinRate:
    version: str
    wins: int
    ties: int
    losses: int
    votes: int
    win_rate: float  # (wins + ties / 2) / votes


def win_rates(votes: list[Vote]) -> list[WinRate]:
    tally: dict[str, list[int]] = {}
    for v in votes:
        a, b = tally.setdefault(v.first, [0, 0, 0]), tally.setdefault(v.second, [0, 0, 0])
        if v.outcome == TIE:
            a[1] += 1
            b[1] += 1
        else:
            a[0] += 1
            b[2] += 1
    rows = [WinRate(name, w, t, l, w + t + l, (w + t / 2) / (w + t + l)) for name, (w, t, l) in tally.items()]
    return sorted(rows, key=lambda r: (-r.win_rate, r.version))
