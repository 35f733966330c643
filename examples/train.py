"""Train a tiny fraud-scoring model and save it, so the README has something real to register.

A logistic regression fitted by gradient descent on synthetic transactions, in plain Python (no
dependencies), written as a folder: ``weights.json`` (the parameters), ``metrics.json`` and
``MODEL.md``. Different seeds give different data, so two runs give two versions.

    python examples/train.py --seed 1 --out examples/model
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

FEATURES = ["amount_zscore", "foreign_merchant", "night_time", "new_device"]


def make_data(rng: random.Random, n: int) -> list[tuple[list[float], int]]:
    true_weights = [1.6, 1.1, 0.7, 2.0]
    rows = []
    for _ in range(n):
        x = [rng.gauss(0, 1), float(rng.random() < 0.2), float(rng.random() < 0.3), float(rng.random() < 0.1)]
        logit = -3.0 + sum(w * v for w, v in zip(true_weights, x, strict=True))
        rows.append((x, int(rng.random() < 1 / (1 + math.exp(-logit)))))
    return rows


def train(
    rows: list[tuple[list[float], int]], epochs: int = 200, rate: float = 0.5
) -> tuple[list[float], float]:
    weights, bias = [0.0] * len(FEATURES), 0.0
    for _ in range(epochs):
        grad_w, grad_b = [0.0] * len(FEATURES), 0.0
        for x, y in rows:
            p = 1 / (1 + math.exp(-(bias + sum(w * v for w, v in zip(weights, x, strict=True)))))
            for i, v in enumerate(x):
                grad_w[i] += (p - y) * v
            grad_b += p - y
        weights = [w - rate * g / len(rows) for w, g in zip(weights, grad_w, strict=True)]
        bias -= rate * grad_b / len(rows)
    return weights, bias


def accuracy(rows: list[tuple[list[float], int]], weights: list[float], bias: float) -> float:
    hits = sum(
        int((bias + sum(w * v for w, v in zip(weights, x, strict=True)) > 0) == bool(y)) for x, y in rows
    )
    return hits / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "model")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    train_rows, test_rows = make_data(rng, 1500), make_data(rng, 500)
    weights, bias = train(train_rows)
    args.out.mkdir(parents=True, exist_ok=True)
    params = {"features": FEATURES, "weights": [round(w, 6) for w in weights], "bias": round(bias, 6)}
    (args.out / "weights.json").write_text(json.dumps(params, indent=2) + "\n")
    metrics = {"seed": args.seed, "test_accuracy": round(accuracy(test_rows, weights, bias), 4)}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (args.out / "MODEL.md").write_text(
        "# fraud scorer\n\nLogistic regression over " + ", ".join(FEATURES) + ".\n"
    )
    print(f"wrote {args.out} (seed {args.seed}, test accuracy {metrics['test_accuracy']})")


if __name__ == "__main__":
    main()
