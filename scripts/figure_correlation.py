"""Loss probabilities and λ* against the correlation of values, from a sweep over
``setting.correlation`` (scenarios/correlated_trade.toml, correlated_public_project.toml).

    riskpart run scenarios/correlated_trade.toml --out results/correlated_trade
    python scripts/figure_correlation.py results/correlated_trade

Writes DIR/correlation.png (rows: n; columns: each role's loss probability — holder, buyers,
center in trade — and the smallest λ* over the roles, per mechanism) and DIR/correlation.csv
(the numbers behind it, plus E[v] = the center's expected revenue under M1), and prints a table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenarios.sweep_run import read_dataset  # noqa: E402

FIELD = "setting.correlation"
SHOWN = ("M1", "M2", "M3*", "M3+", "AGV")


def tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (n, mechanism, correlation): per-role loss probabilities, smallest λ*."""
    frame = frame.rename(columns={FIELD: "correlation"})
    losses = frame.pivot_table(index=["n", "mechanism", "correlation"], columns="role",
                               values="loss_probability").add_prefix("loss_")
    worst = frame.groupby(["n", "mechanism", "correlation"]).agg(
        min_lambda_star=("lambda_star", "min"), max_loss=("loss_probability", "max"))
    out = losses.join(worst).reset_index()
    surplus = frame[(frame.mechanism == "M1") & (frame.role == "center")]
    ev = surplus.set_index(["n", "correlation"]).expected_utility.rename("expected_surplus")
    return out.join(ev, on=["n", "correlation"])


def figure(table: pd.DataFrame, roles: list, title: str, path: Path) -> None:
    sizes = sorted(table.n.unique())
    columns = [(f"loss_{r}", f"{r}: P({'deficit' if r == 'center' else 'loss'})") for r in roles]
    columns.append(("min_lambda_star", "smallest λ* over roles"))
    fig, axes = plt.subplots(len(sizes), len(columns), figsize=(3.75 * len(columns), 2.8 * len(sizes)),
                             squeeze=False)
    for row, n in zip(axes, sizes):
        part = table[table.n == n]
        for ax, (column, label) in zip(row, columns):
            for mech in SHOWN:
                g = part[part.mechanism == mech].sort_values("correlation")
                if len(g):
                    y = np.minimum(g[column], 8.0) if column == "min_lambda_star" else g[column]
                    ax.plot(g.correlation, y, marker="o", ms=3, label=mech)
            ax.set_title(f"n = {n}: {label}", fontsize=9)
            ax.grid(alpha=0.3)
            if column == "min_lambda_star":
                ax.axhline(2.25, color="grey", ls="--", lw=1)
    for ax in axes[-1]:
        ax.set_xlabel("correlation of the latent normals (Gaussian copula)")
    axes[0, -1].legend(fontsize=7)
    fig.suptitle(f"{title} with correlated values: loss probabilities and λ*", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the folder a sweep over setting.correlation wrote")
    parser.add_argument("--title", default="Public project", help="figure title (non-trade)")
    args = parser.parse_args()
    folder = Path(args.folder)
    frame = read_dataset(folder)
    if frame.empty or FIELD not in frame:
        sys.exit(f"error: {folder} holds no finished chunks of a sweep over {FIELD}")
    table = tidy(frame)
    table.to_csv(folder / "correlation.csv", index=False)
    roles = [r for r in dict.fromkeys(frame.role) if r != "center"]
    roles = (["holder", "buyer"] if set(roles) == {"holder", "buyer"} else roles) + ["center"]
    title = "Uniform values trade" if "buyer" in roles else args.title
    figure(table, roles, title, folder / "correlation.png")
    shown = table[table.correlation.isin([0.0, 0.3, 0.6, 0.9])
                  & table.mechanism.isin(["M2", "M3*", "M3+"])]
    print("smallest λ* and largest loss probability over roles, by correlation:")
    print(shown.pivot_table(index=["mechanism", "n"], columns="correlation",
                            values=["min_lambda_star", "max_loss"]).round(3).to_string())
    print("\nexpected surplus E[v] (the center's expected revenue under M1), by correlation:")
    print(table[table.mechanism == "M1"].pivot_table(index="n", columns="correlation",
                                                     values="expected_surplus").round(4).to_string())
    print(f"wrote {folder / 'correlation.png'} and {folder / 'correlation.csv'}")


if __name__ == "__main__":
    main()
