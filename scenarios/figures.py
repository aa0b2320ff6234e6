"""Figures as PNG: the paper's Figures 1 and 2, and participation over rounds."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from agents.population import PUBLISHED  # noqa: E402

REFERENCES = {  # label -> λ, drawn on Figure 2
    "Tversky & Kahneman 1992 (2.25)": PUBLISHED["tversky_kahneman_1992"],
    "Brown et al. 2024 (1.955)": PUBLISHED["brown_et_al_2024"],
    "Walasek et al. 2024 (1.31)": PUBLISHED["walasek_et_al_2024"],
}


TRADE_TITLE = "uniform values trade"


def setting_title(setting_spec) -> str:
    """Words for a figure title: the setting type, its priors and any correlation."""
    if setting_spec is None:
        return TRADE_TITLE
    kind = type(setting_spec).__name__
    if kind == "TradeSpec":
        h, b = setting_spec.holder_prior, setting_spec.buyer_prior
        uniform = {type(h).__name__, type(b).__name__} == {"Uniform"}
        words = "uniform values trade" if uniform else (
            f"trade, holder {_prior_words(h)}, buyers {_prior_words(b)}")
    elif kind == "SymmetricSpec":
        words = f"{setting_spec.type.replace('_', ' ')}, values {_prior_words(setting_spec.prior)}"
    else:
        words = "finite setting (" + ", ".join(setting_spec.setting.labels) + ")"
    rho = getattr(setting_spec, "correlation", None)
    if rho is None and kind == "FiniteSpec" and setting_spec.setting.copula is not None:
        rho = "matrix"
    if rho is not None:
        words += f", correlation {rho:g}" if isinstance(rho, float) else ", correlated"
    return words


def _prior_words(prior) -> str:
    name = type(prior).__name__
    if name == "Uniform":
        return f"uniform [{prior.low:g}, {prior.high:g}]"
    if name == "TruncatedNormal":
        return f"normal({prior.mu:g}, {prior.sigma:g}) on [{prior.low:g}, {prior.high:g}]"
    if name == "Beta":
        return f"beta({prior.a:g}, {prior.b:g}) on [{prior.low:g}, {prior.high:g}]"
    return f"discrete ({len(prior.values)} values)"


def figure1(summary: pd.DataFrame, path: Path, title: str = TRADE_TITLE) -> None:
    """Loss probability against n, per mechanism, for each role (in the summary's order)."""
    roles = list(dict.fromkeys(summary.role))
    fig, axes = plt.subplots(1, len(roles), figsize=(13 * len(roles) / 3, 4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, role in zip(axes, roles):
        part = summary[summary.role == role]
        for mech, g in part.groupby("mechanism", sort=False):
            ax.plot(g.n, g.loss_probability, marker="o", ms=3, label=mech)
        ax.set_title(f"{role}" + (" (deficit)" if role == "center" else ""))
        ax.set_xlabel("number of agents n")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("probability of a loss")
    axes[-1].legend(fontsize=8)
    fig.suptitle(f"Figure 1: loss probability, {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure2(summary: pd.DataFrame, path: Path, title: str = TRADE_TITLE) -> None:
    """Smallest λ* over all roles against n, per mechanism, with published estimates."""
    worst = summary.groupby(["mechanism", "n"], sort=False).lambda_star.min().reset_index()
    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    finite = worst.lambda_star[np.isfinite(worst.lambda_star)]
    top = max(4.0, float(finite.max()) * 1.1) if len(finite) else 4.0
    for mech, g in worst.groupby("mechanism", sort=False):
        label = f"{mech} (Bayes-Nash only: no valid comparison)" if mech == "AGV" else mech
        ax.plot(g.n, np.minimum(g.lambda_star, top), marker="o", ms=3, label=label)
    for (label, lam), style in zip(REFERENCES.items(), ("--", ":", "-.")):
        ax.axhline(lam, color="grey", ls=style, lw=1, label=label)
    ax.set_ylim(0, top)
    ax.set_xlabel("number of agents n")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("largest λ at which every role joins (min λ*)")
    ax.set_title(f"Figure 2: participation threshold, {title}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def participation_figure(rounds: pd.DataFrame, path: Path) -> None:
    """Participation rate and efficiency over rounds: mean and 5–95% band across replicates."""
    frame = rounds.assign(
        participation=rounds.participation_rate,
        efficiency=np.where(rounds.first_best_welfare > 0,
                            rounds.welfare / rounds.first_best_welfare.where(rounds.first_best_welfare > 0), np.nan))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, column in zip(axes, ("participation", "efficiency")):
        for mech, g in frame.groupby("mechanism", sort=False):
            by_round = g.groupby("round")[column]
            mean = by_round.mean()
            ax.plot(mean.index, mean.values, label=mech)
            ax.fill_between(mean.index, by_round.quantile(0.05), by_round.quantile(0.95), alpha=0.2)
        ax.set_xlabel("round")
        ax.set_ylabel(column)
        ax.set_ylim(-0.02, 1.1)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    fig.suptitle("participation and efficiency over rounds (mean, 5–95% band across replicates)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
