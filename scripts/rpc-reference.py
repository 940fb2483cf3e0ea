#!/usr/bin/env python3
"""Reference fits for RPC, from the paper's own code path.

Fits the Weibull mixture to sets of path probabilities exactly as
WNJXYK/RPC's compute_rpc.py does (scipy.optimize.minimize, L-BFGS-B with its
default options and finite-difference gradients) and writes, per set, the
paths it prunes, the fit's parameters, NLL, iterations, function
evaluations and status. tests/rpc_reference.rs checks our fit against it.

Two kinds of sets:
  real       subsets of the path probabilities of real runs: read from an
             earlier fixture (its "real" sets, so they stay identical) or
             drawn from `reasonscope analyze --format json` output;
  synthetic  seeded draws in (0, 1]: Weibull mixtures, uniform and beta
             samples of 4, 8, 16 and 32 points.

    /tmp/venv/bin/pip install numpy scipy==1.15.3
    NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" \\
        /tmp/venv/bin/python scripts/rpc-reference.py tests/data/rpc_scipy.json tests/data/rpc_scipy.json
    # or, from runs:  ./target/release/reasonscope analyze --format json sample_runs/ > /tmp/a.json
    #                 ... scripts/rpc-reference.py /tmp/a.json tests/data/rpc_scipy.json

NPY_DISABLE_CPU_FEATURES: on CPUs with AVX-512 numpy evaluates exp, log and
pow with its own SIMD code, which rounds differently from the C library in
the last bit; without AVX-512 (and with this setting) it calls the C
library's, as our Rust does. The fixture records which was used.
"""
import json
import os
import sys
import warnings

import numpy as np
import scipy
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


def reference_fit(xs):
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
    # Floats that must round-trip exactly (the inputs, the fit) are written
    # as strings: serde_json's default float parser may miss by an ulp.
    return {
        "xs": [repr(float(x)) for x in xs],
        "prune": prune,
        "nll": float(r.fun) if np.isfinite(r.fun) else None,
        "x": [repr(float(v)) for v in r.x],
        "nit": int(r.nit),
        "nfev": int(r.nfev),
        "status": int(r.status),
    }


def real_sets(path):
    src = json.load(open(path))
    if "sets" in src or "real" in src:
        # An earlier fixture: keep its real sets as they are.
        return [[float(x) for x in s["xs"]] for s in src.get("real", src.get("sets"))]
    rng = np.random.default_rng(7)
    sets = []
    for run in src["runs"]:
        for turn in run["turns"]:
            xs = [p["path_prob"] for p in turn["paths"] if p.get("path_prob") is not None]
            for n in (4, 8, 16):
                if n > len(xs):
                    continue
                for _ in range(15):
                    pick = rng.choice(len(xs), size=n, replace=False)
                    sets.append([xs[i] for i in pick])
    return sets


def synthetic_sets():
    """Seeded draws in (0, 1], 80 sets of each size."""
    rng = np.random.default_rng(2025)
    sets = []
    for n in (4, 8, 16, 32):
        for i in range(80):
            kind = i % 4
            if kind == 0:  # two Weibull components
                w = rng.uniform(0.2, 0.8)
                k = rng.uniform(0.5, 8.0, 2)
                lam = rng.uniform(0.05, 0.9, 2)
                comp = rng.random(n) < w
                v = np.where(comp, lam[0] * rng.weibull(k[0], n), lam[1] * rng.weibull(k[1], n))
            elif kind == 1:  # uniform
                v = 1.0 - rng.random(n)
            elif kind == 2:  # beta
                v = rng.beta(rng.uniform(0.5, 5.0), rng.uniform(0.5, 5.0), n)
            else:  # one Weibull, like a confident model's paths
                v = rng.uniform(0.2, 0.95) * rng.weibull(rng.uniform(2.0, 12.0), n)
            v = np.clip(v, 1e-6, 1.0)
            sets.append([float(x) for x in v])
    return sets


def main():
    real = [reference_fit(xs) for xs in real_sets(sys.argv[1])]
    synthetic = [reference_fit(xs) for xs in synthetic_sets()]
    out = {
        "source": "real: subsets of sample_runs/ path probabilities (reasonscope analyze --format json); "
        "synthetic: scripts/rpc-reference.py synthetic_sets()",
        "scipy": scipy.__version__,
        "numpy": np.__version__,
        "npy_disable_cpu_features": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""),
        "real": real,
        "synthetic": synthetic,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
    for name, sets in (("real", real), ("synthetic", synthetic)):
        nits = sorted(s["nit"] for s in sets)
        print(f"{name}: {len(sets)} sets; SciPy iterations median {nits[len(nits) // 2]}, max {nits[-1]}; "
              f"status {dict(zip(*np.unique([s['status'] for s in sets], return_counts=True)))}")


if __name__ == "__main__":
    main()
