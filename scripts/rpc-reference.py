#!/usr/bin/env python3
"""Reference pruning decisions for RPC, from the paper's own code path.

Draws subsets of path probabilities from real runs (`reasonscope analyze
--format json` output), fits the Weibull mixture exactly as WNJXYK/RPC's
compute_rpc.py does (scipy.optimize.minimize, L-BFGS-B, finite-difference
gradients) and writes, per subset, the paths it prunes and its NLL.
tests/rpc_reference.rs checks our fit against this file.

    ./target/release/reasonscope analyze --format json sample_runs/ > /tmp/a.json
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scipy
    /tmp/venv/bin/python scripts/rpc-reference.py /tmp/a.json tests/data/rpc_scipy.json
"""
import json
import sys
import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.special import gamma

warnings.filterwarnings("ignore")  # the reference's log(0) and overflow warnings


# The reference code's functions (compute_rpc.py), same arithmetic.
def weibull_pdf(x, k, lam):
    return (k / lam) * (x / lam) ** (k - 1) * np.exp(-((x / lam) ** k))


def weibull_mean(k, lam):
    return lam * gamma(1 + 1 / k)


def mixture_pdf(x, w1, k1, lam1, k2, lam2):
    return w1 * weibull_pdf(x, k1, lam1) + (1 - w1) * weibull_pdf(x, k2, lam2)


def neg_log_likelihood(params, data):
    return -np.sum(np.log(mixture_pdf(data, *params)))


def reference_prune(xs):
    data = np.array(xs)
    r = minimize(
        neg_log_likelihood,
        [0.5, 1.0, 1.0, 1.5, 2.0],
        args=(data,),
        bounds=[(0.2, 0.8), (0.01, None), (0.01, None), (0.01, None), (0.01, None)],
    )
    w1, k1, lam1, k2, lam2 = r.x
    if weibull_mean(k1, lam1) < weibull_mean(k2, lam2):
        k1, lam1, k2, lam2 = k2, lam2, k1, lam1
        w1 = 1 - w1
    p1 = w1 * weibull_pdf(data, k1, lam1)
    p2 = (1 - w1) * weibull_pdf(data, k2, lam2)
    prob1 = p1 / (p1 + p2)
    mean = np.mean(data)
    prune = [bool(a < 1 - a and x < mean) for a, x in zip(prob1, data)]
    nll = float(r.fun) if np.isfinite(r.fun) else None
    return prune, nll, int(r.nit)


def main():
    report = json.load(open(sys.argv[1]))
    rng = np.random.default_rng(7)
    sets = []
    for run in report["runs"]:
        for turn in run["turns"]:
            xs = [p["path_prob"] for p in turn["paths"] if p.get("path_prob") is not None]
            for n in (4, 8, 16):
                if n > len(xs):
                    continue
                for _ in range(15):
                    pick = rng.choice(len(xs), size=n, replace=False)
                    sets.append([xs[i] for i in pick])
    out = []
    for xs in sets:
        prune, nll, nit = reference_prune(xs)
        out.append({"xs": xs, "prune": prune, "nll": nll, "nit": nit})
    json.dump({"source": "sample_runs/ (reasonscope analyze --format json)", "sets": out}, open(sys.argv[2], "w"), indent=None)
    print(f"{len(out)} sets; SciPy iterations median {sorted(o['nit'] for o in out)[len(out) // 2]}, "
          f"max {max(o['nit'] for o in out)}")


if __name__ == "__main__":
    main()
