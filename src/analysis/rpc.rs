//! RPC's two-component Weibull mixture (Zhou et al. 2025), fitted to path
//! probabilities by bounded maximum likelihood exactly as the reference code
//! (WNJXYK/RPC compute_rpc.py) fits it: `scipy.optimize.minimize` with its
//! defaults, i.e. L-BFGS-B with forward-difference gradients, from the
//! start [0.5, 1, 1, 1.5, 2] within w ∈ [0.2, 0.8], k, λ ≥ 0.01.
//!
//! The optimiser is a port of SciPy's own (./lbfgsb.rs), and it minimises
//! the reference's function with the reference's arithmetic: linear-space
//! densities (k/λ)·(x/λ)^(k−1)·exp(−(x/λ)^k) with numpy's fast paths for
//! the exponents 0.5, 2 and −1, the log of the weighted mixture, numpy's
//! pairwise sum. The likelihood is unbounded (a component can collapse onto
//! one point), so on many sets the fit ends wherever the optimiser's path
//! and its finite-difference noise take it; the same result therefore needs
//! the same iterates, bit for bit. On the 300 real and 320 synthetic path
//! sets of tests/data/rpc_scipy.json our fit reproduces SciPy 1.15.3's final
//! parameters, iteration and evaluation counts exactly on every set, and so
//! its pruning. That holds where numpy evaluates exp, log and pow with the C
//! library (CPUs without AVX-512, or NPY_DISABLE_CPU_FEATURES): with
//! numpy's AVX-512 code, whose results differ in the last bit, SciPy's own
//! pruning changes on 3.3% of the real sets and 2.8% of the synthetic ones,
//! and ours agrees with that run on the same 96.7% and 97.2%.
//! tests/rpc_reference.rs checks all of this.
//!
//! The price is SciPy's: a fit takes about 65 iterations and 590
//! evaluations of the likelihood (five finite-difference steps per
//! gradient), with pow, exp and log per point, about 0.9 ms on a 16-point
//! set. Every answer reported per run, per question and in the suite
//! accuracy table (methods::select with the default `RpcFit::Exact`) uses
//! [`fit`]. The accuracy-vs-N curves, which fit tens of thousands of random
//! subsets, use [`fit_fast`] instead (projected full BFGS with analytic
//! gradients, about 12× cheaper): with [`fit`] throughout, the suite
//! benchmark's load + analyze took 25.1 s; with [`fit_fast`] there, 1.31 s
//! (1.34 s before the exact port; the target is 2 s). [`fit_fast`]
//! prunes as SciPy does on 88.0% of the real and 85.3% of the synthetic
//! reference sets, and gives [`fit`]'s RPC answer on 89.4% of the sample-run
//! subsets whose answer the fit can change (97.3% of all subsets drawn).
//! The curves' point at N, a draw of every path, takes the per-run
//! analysis's exact answer.

use super::lbfgsb;

/// Mixture parameters: weight of component 1, then (shape k, scale λ) of each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeibullMixture {
    pub w: f64,
    pub k1: f64,
    pub l1: f64,
    pub k2: f64,
    pub l2: f64,
}

pub const START: [f64; 5] = [0.5, 1.0, 1.0, 1.5, 2.0];

fn ln_weibull(x: f64, k: f64, l: f64) -> f64 {
    let z = x / l;
    k.ln() - l.ln() + (k - 1.0) * z.ln() - z.powf(k)
}

fn logaddexp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

impl WeibullMixture {
    pub fn from_params(p: &[f64; 5]) -> Self {
        WeibullMixture {
            w: p[0],
            k1: p[1],
            l1: p[2],
            k2: p[3],
            l2: p[4],
        }
    }

    pub fn params(&self) -> [f64; 5] {
        [self.w, self.k1, self.l1, self.k2, self.l2]
    }

    /// Mean of component j: λ·Γ(1 + 1/k).
    pub fn means(&self) -> (f64, f64) {
        (
            self.l1 * libm::tgamma(1.0 + 1.0 / self.k1),
            self.l2 * libm::tgamma(1.0 + 1.0 / self.k2),
        )
    }

    /// Negative log-likelihood of `xs`, in log space (finite where the
    /// reference's linear-space densities underflow).
    pub fn nll(&self, xs: &[f64]) -> f64 {
        let (lw1, lw2) = (self.w.ln(), (1.0 - self.w).ln());
        -xs.iter()
            .map(|&x| {
                logaddexp(
                    lw1 + ln_weibull(x, self.k1, self.l1),
                    lw2 + ln_weibull(x, self.k2, self.l2),
                )
            })
            .sum::<f64>()
    }

    /// P(high component | x), the high component having the larger mean.
    pub fn posterior_high(&self, x: f64) -> f64 {
        self.posterior_high_given(x, self.first_is_high())
    }

    /// P(high component | x) for each x (the means, two Γ evaluations, are
    /// compared once rather than per point).
    pub fn posteriors_high(&self, xs: &[f64]) -> Vec<f64> {
        let first_high = self.first_is_high();
        xs.iter()
            .map(|&x| self.posterior_high_given(x, first_high))
            .collect()
    }

    fn first_is_high(&self) -> bool {
        let (m1, m2) = self.means();
        m1 >= m2
    }

    fn posterior_high_given(&self, x: f64, first_high: bool) -> f64 {
        let a = self.w.ln() + ln_weibull(x, self.k1, self.l1);
        let b = (1.0 - self.w).ln() + ln_weibull(x, self.k2, self.l2);
        let p1 = (a - logaddexp(a, b)).exp();
        if first_high {
            p1
        } else {
            1.0 - p1
        }
    }
}

/// The box: w ∈ [0.2, 0.8]; k, λ ≥ 0.01 (the reference code's bounds).
const LOWER: [f64; 5] = [0.2, 0.01, 0.01, 0.01, 0.01];
const UPPER: [f64; 5] = [
    0.8,
    f64::INFINITY,
    f64::INFINITY,
    f64::INFINITY,
    f64::INFINITY,
];

/// numpy's `array ** scalar`: sqrt, square and reciprocal for the
/// exponents 0.5, 2 and −1 (fast paths), else the C library's pow.
#[inline]
fn np_pow(b: f64, e: f64) -> f64 {
    if e == 0.5 {
        b.sqrt()
    } else if e == 2.0 {
        b * b
    } else if e == -1.0 {
        1.0 / b
    } else {
        b.powf(e)
    }
}

/// numpy's pairwise summation of a contiguous float64 array (`np.sum`):
/// sequential below 8 elements, 8 interleaved partial sums up to 128,
/// halves (at a multiple of 8) above.
fn np_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (rj, &v) in r.iter_mut().zip(chunk) {
                *rj += v;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[full..] {
            res += v;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        np_sum(&a[..n2]) + np_sum(&a[n2..])
    }
}

/// One component's reference densities at every point, for one (k, λ).
#[derive(Default)]
struct Densities {
    key: Option<(u64, u64)>,
    values: Vec<f64>,
}

impl Densities {
    fn holds(&self, k: f64, l: f64) -> bool {
        self.key == Some((k.to_bits(), l.to_bits()))
    }

    /// compute_rpc.py's weibull_pdf: (k/λ)·(x/λ)^(k−1)·exp(−(x/λ)^k).
    fn fill(&mut self, xs: &[f64], k: f64, l: f64) {
        let (kl, km1) = (k / l, k - 1.0);
        self.values.clear();
        self.values.extend(
            xs.iter()
                .map(|&x| kl * np_pow(x / l, km1) * (-np_pow(x / l, k)).exp()),
        );
        self.key = Some((k.to_bits(), l.to_bits()));
    }
}

/// The reference's neg_log_likelihood, −Σ log(w·f1 + (1 − w)·f2), with its
/// arithmetic. A finite-difference step changes one parameter, so each
/// component keeps the densities of the last point where both changed
/// (`base`) and recomputes only the perturbed one (`scratch`): the values
/// are those a full evaluation gives, bit for bit, at a third of the cost.
struct ReferenceNll<'a> {
    xs: &'a [f64],
    base: [Densities; 2],
    scratch: [Densities; 2],
    logs: Vec<f64>,
}

impl<'a> ReferenceNll<'a> {
    fn new(xs: &'a [f64]) -> Self {
        ReferenceNll {
            xs,
            base: Default::default(),
            scratch: Default::default(),
            logs: Vec::with_capacity(xs.len()),
        }
    }

    fn eval(&mut self, p: &[f64]) -> f64 {
        let (w, kl) = (p[0], [(p[1], p[2]), (p[3], p[4])]);
        let hit = [0, 1].map(|c| self.base[c].holds(kl[c].0, kl[c].1));
        let mut use_base = hit;
        for c in 0..2 {
            if hit[c] {
                continue;
            }
            if !hit[1 - c] && !hit[c] {
                self.base[c].fill(self.xs, kl[c].0, kl[c].1);
                use_base[c] = true;
            } else if !self.scratch[c].holds(kl[c].0, kl[c].1) {
                self.scratch[c].fill(self.xs, kl[c].0, kl[c].1);
            }
        }
        let pick = |c: usize| {
            if use_base[c] {
                &self.base[c].values
            } else {
                &self.scratch[c].values
            }
        };
        let (d1, d2) = (pick(0), pick(1));
        let w2 = 1.0 - w;
        self.logs.clear();
        self.logs
            .extend(d1.iter().zip(d2).map(|(&a, &b)| (w * a + w2 * b).ln()));
        -np_sum(&self.logs)
    }
}

/// A fit and how the optimiser ended.
#[derive(Debug, Clone)]
pub struct Fit {
    pub mixture: WeibullMixture,
    /// The reference's NLL at the fit (SciPy's `fun`).
    pub nll: f64,
    pub nit: usize,
    pub nfev: usize,
    pub status: lbfgsb::Status,
}

/// Fit by maximum likelihood as the reference code does. `None` when the
/// data cannot be fitted (fewer than 2 points, a value outside (0, ∞), or
/// parameters that are not finite).
pub fn fit(xs: &[f64]) -> Option<WeibullMixture> {
    fit_detailed(xs).map(|f| f.mixture)
}

/// [`fit`], with the optimiser's report.
pub fn fit_detailed(xs: &[f64]) -> Option<Fit> {
    if xs.len() < 2 || xs.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
        return None;
    }
    let mut nll = ReferenceNll::new(xs);
    let r = lbfgsb::minimize_numdiff(
        |p| nll.eval(p),
        &START,
        &LOWER,
        &UPPER,
        &lbfgsb::Options::default(),
    );
    let p: [f64; 5] = r.x.as_slice().try_into().ok()?;
    p.iter().all(|v| v.is_finite()).then(|| Fit {
        mixture: WeibullMixture::from_params(&p),
        nll: r.f,
        nit: r.nit,
        nfev: r.nfev,
        status: r.status,
    })
}

/// The fast fit's optimiser settings (see [`fit_fast`]).
/// SciPy's L-BFGS-B defaults, as the fast fit applies them (`ftol` = 1e7 · machine epsilon, `gtol`).
const SCIPY_FTOL: f64 = 2.220_446_049_250_313e-9;
const SCIPY_GTOL: f64 = 1e-5;
/// The likelihood is unbounded (a component can collapse onto one point as
/// k → ∞), and such fits improve a little on every iteration. SciPy, with
/// its finite-difference gradients, needed at most 127 iterations on the
/// real path sets of tests/data/rpc_scipy.json (median 42) and 156 on 2,700
/// synthetic ones (median 65). With a cap of 60, 80, 100, 200 or 1 000 our
/// pruning agreed with SciPy's on 85.7% of the real sets at every cap, and
/// on 76.1, 76.3, 76.2, 76.7 and 76.7% of the synthetic ones; our likelihood
/// was worse than SciPy's on 10.0, 6.0, 6.0, 5.7 and 5.7% of the real sets.
/// 100 bounds the chase.
const MAX_ITERATIONS: usize = 100;

/// ln of the largest finite f64, and of the smallest positive one: exp
/// overflows above the first and rounds to 0 below the second.
const LN_MAX: f64 = 709.782_712_893_384;
const LN_MIN: f64 = -744.440_072_131_693;

/// How the reference code's linear-space density of one component,
/// w·(k/λ)·z^(k−1)·exp(−z^k), evaluates in floating point, read off the
/// log-space terms: `None` when it is NaN or infinite (z^(k−1) or the
/// product overflows), else whether it rounds to 0.
fn reference_density_is_zero(
    lw: f64,
    ln_k_over_l: f64,
    k_minus_1_lz: f64,
    zk: f64,
) -> Option<bool> {
    if k_minus_1_lz > LN_MAX || ln_k_over_l + k_minus_1_lz > LN_MAX {
        return None;
    }
    Some(k_minus_1_lz < LN_MIN || zk > -LN_MIN || lw + ln_k_over_l + k_minus_1_lz - zk < LN_MIN)
}

/// NLL at raw parameters p of the points whose logarithms are `lxs` (taken
/// once per fit); when `grad` is given, fills ∂NLL/∂p.
///
/// Per point: ln z_j = ln x − ln λ_j, z_j^k = exp(k·ln z_j), and the
/// responsibilities r_1 + r_2 = 1 from one exp (a fit evaluates this tens of
/// times for every subset the accuracy curves draw).
fn nll_grad(p: &[f64; 5], lxs: &[f64], mut grad: Option<&mut [f64; 5]>) -> f64 {
    let [w, k1, l1, k2, l2] = *p;
    if let Some(g) = grad.as_deref_mut() {
        *g = [0.0; 5];
    }
    let (lw1, lw2) = (w.ln(), (1.0 - w).ln());
    // ln(k/λ) in one call each: the densities only need the difference.
    let (lkl1, ll1, lkl2, ll2) = ((k1 / l1).ln(), l1.ln(), (k2 / l2).ln(), l2.ln());
    let mut nll = 0.0;
    // Π (1 + e) over the points, for one ln instead of one per point; each
    // factor lies in [1, 2], and the product is folded into the sum before
    // it could overflow (a run file may hold any number of paths).
    let mut spread = 1.0f64;
    for &lx in lxs {
        let (lz1, lz2) = (lx - ll1, lx - ll2);
        let (zk1, zk2) = ((k1 * lz1).exp(), (k2 * lz2).exp());
        let (e1, e2) = ((k1 - 1.0) * lz1, (k2 - 1.0) * lz2);
        // Parameters where the reference's own densities overflow, or both
        // round to 0, are out of its reach, and so out of this fit's.
        match (
            reference_density_is_zero(lw1, lkl1, e1, zk1),
            reference_density_is_zero(lw2, lkl2, e2, zk2),
        ) {
            (Some(zero1), Some(zero2)) if !(zero1 && zero2) => {}
            _ => return f64::INFINITY,
        }
        // ln of each component's density, then of the weighted mixture.
        let a = lkl1 + e1 - zk1;
        let b = lkl2 + e2 - zk2;
        let (la, lb) = (lw1 + a, lw2 + b);
        if la.max(lb) > LN_MAX {
            return f64::INFINITY;
        }
        let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
        if hi == f64::NEG_INFINITY || hi.is_nan() {
            return f64::INFINITY;
        }
        // −ln f = −hi − ln(1 + e), e ∈ [0, 1]; no log1p needed (an absolute
        // error of 1e-16 on a sum of O(1) terms).
        let e = (lo - hi).exp();
        nll -= hi;
        spread *= 1.0 + e;
        if spread > 1e300 {
            nll -= spread.ln();
            spread = 1.0;
        }
        if let Some(g) = grad.as_deref_mut() {
            let r_hi = 1.0 / (1.0 + e);
            let r_lo = e * r_hi;
            let (r1, r2) = if la >= lb { (r_hi, r_lo) } else { (r_lo, r_hi) };
            // ∂ ln f / ∂w = (f1 − f2) / f = r1/w − r2/(1 − w)
            let d_w = r1 / w - r2 / (1.0 - w);
            let d_k1 = 1.0 / k1 + lz1 - zk1 * lz1;
            let d_l1 = k1 / l1 * (zk1 - 1.0);
            let d_k2 = 1.0 / k2 + lz2 - zk2 * lz2;
            let d_l2 = k2 / l2 * (zk2 - 1.0);
            g[0] -= d_w;
            g[1] -= r1 * d_k1;
            g[2] -= r1 * d_l1;
            g[3] -= r2 * d_k2;
            g[4] -= r2 * d_l2;
        }
    }
    nll - spread.ln()
}

fn project(p: [f64; 5]) -> [f64; 5] {
    std::array::from_fn(|i| p[i].clamp(LOWER[i], UPPER[i]))
}

/// SciPy's projected gradient: P(p − g) − p.
fn projected_gradient_norm(p: &[f64; 5], g: &[f64; 5]) -> f64 {
    (0..5).fold(0.0f64, |m, i| {
        m.max(((p[i] - g[i]).clamp(LOWER[i], UPPER[i]) - p[i]).abs())
    })
}

fn dot(a: &[f64; 5], b: &[f64; 5]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A fast approximation of [`fit`], for the accuracy-vs-N curves' bulk
/// random-subset draws: the same start, box and stopping rules, but
/// analytic gradients in log space and a projected full-BFGS (5×5 inverse
/// Hessian) with a backtracking line search, where [`fit`] follows SciPy's
/// finite-difference L-BFGS-B iterate by iterate. It reaches a stationary
/// point of the same likelihood, usually the same one, in a fraction of the
/// evaluations; on degenerate sets (a component collapsing onto one point)
/// it may end elsewhere and prune differently (see the module docs for the
/// measured agreement). `None` as for [`fit`].
pub fn fit_fast(xs: &[f64]) -> Option<WeibullMixture> {
    if xs.len() < 2 || xs.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
        return None;
    }
    let lxs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
    let mut p = START;
    let mut g = [0.0; 5];
    let mut f = nll_grad(&p, &lxs, Some(&mut g));
    if !f.is_finite() {
        return None;
    }
    // Inverse Hessian approximation (full BFGS: 5 parameters), None until
    // the first curvature pair.
    let mut hinv: Option<[[f64; 5]; 5]> = None;
    for _ in 0..MAX_ITERATIONS {
        if projected_gradient_norm(&p, &g) <= SCIPY_GTOL {
            break;
        }
        // A variable at a bound whose gradient pushes it out stays fixed.
        let free: [bool; 5] = std::array::from_fn(|i| {
            !((p[i] <= LOWER[i] && g[i] > 0.0) || (p[i] >= UPPER[i] && g[i] < 0.0))
        });
        let gf: [f64; 5] = std::array::from_fn(|i| if free[i] { g[i] } else { 0.0 });
        let q: [f64; 5] = match &hinv {
            Some(h) => std::array::from_fn(|i| dot(&h[i], &gf)),
            None => gf,
        };
        let mut d: [f64; 5] = std::array::from_fn(|i| if free[i] { -q[i] } else { 0.0 });
        if dot(&d, &gf) >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            d = gf.map(|v| -v);
            hinv = None;
        }
        // Backtracking (Armijo) along the projected path; the first step
        // is 1/‖d‖, as SciPy's L-BFGS-B takes it.
        let mut step = if hinv.is_none() {
            (1.0 / dot(&d, &d).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..60 {
            let cand = project(std::array::from_fn(|j| p[j] + step * d[j]));
            let moved: [f64; 5] = std::array::from_fn(|j| cand[j] - p[j]);
            let decrease = dot(&g, &moved);
            let mut gc = [0.0; 5];
            let fc = nll_grad(&cand, &lxs, Some(&mut gc));
            if fc.is_finite() && fc <= f + 1e-4 * decrease {
                accepted = Some((cand, fc, gc));
                break;
            }
            // Minimum of the quadratic through f, the slope and fc, kept
            // within [0.1, 0.5] of the step.
            let next = if fc.is_finite() && decrease < 0.0 {
                -decrease * step / (2.0 * (fc - f - decrease))
            } else {
                0.5 * step
            };
            step = next.clamp(0.1 * step, 0.5 * step);
        }
        let Some((pn, fn_, gn)) = accepted else { break };
        let s: [f64; 5] = std::array::from_fn(|j| pn[j] - p[j]);
        let yv: [f64; 5] = std::array::from_fn(|j| gn[j] - g[j]);
        let sy = dot(&s, &yv);
        if sy > f64::EPSILON * dot(&yv, &yv) {
            let rho = 1.0 / sy;
            let h = hinv.get_or_insert_with(|| {
                let gamma = sy / dot(&yv, &yv);
                std::array::from_fn(|i| std::array::from_fn(|j| if i == j { gamma } else { 0.0 }))
            });
            let hy: [f64; 5] = std::array::from_fn(|i| dot(&h[i], &yv));
            let c = rho * rho * dot(&yv, &hy) + rho;
            for i in 0..5 {
                for j in 0..5 {
                    h[i][j] += c * s[i] * s[j] - rho * (s[i] * hy[j] + hy[i] * s[j]);
                }
            }
        }
        // SciPy's L-BFGS-B stopping rule (the reference code's optimiser):
        // relative decrease below ftol = 2.22e-9.
        let done = (f - fn_) <= SCIPY_FTOL * f.abs().max(fn_.abs()).max(1.0);
        p = pn;
        f = fn_;
        g = gn;
        if done {
            break;
        }
    }
    p.iter()
        .all(|v| v.is_finite())
        .then(|| WeibullMixture::from_params(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_clusters() -> Vec<f64> {
        let mut xs: Vec<f64> = (0..8).map(|i| 0.28 + 0.01 * i as f64).collect();
        xs.extend([0.88, 0.9, 0.91, 0.93]);
        xs
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let xs = two_clusters();
        let lxs: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
        let p = [0.4, 1.3, 0.5, 2.2, 0.9];
        let mut g = [0.0; 5];
        nll_grad(&p, &lxs, Some(&mut g));
        for i in 0..5 {
            let h = 1e-6;
            let mut a = p;
            let mut b = p;
            a[i] += h;
            b[i] -= h;
            let fd = (nll_grad(&a, &lxs, None) - nll_grad(&b, &lxs, None)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-4 * fd.abs().max(1.0),
                "param {i}: {fd} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn fit_reaches_a_stationary_point_better_than_its_neighbours() {
        let xs = two_clusters();
        for m in [fit(&xs).unwrap(), fit_fast(&xs).unwrap()] {
            stationary_and_separated(&xs, m);
        }
    }

    fn stationary_and_separated(xs: &[f64], m: WeibullMixture) {
        let p = m.params();
        let best = m.nll(xs);
        assert!(best < WeibullMixture::from_params(&START).nll(xs));
        // No feasible neighbour is better (a local optimum of the bounded problem).
        for i in 0..5 {
            for h in [1e-4, -1e-4] {
                let mut q = p;
                q[i] += h;
                let feasible = if i == 0 {
                    (0.2..=0.8).contains(&q[0])
                } else {
                    q[i] >= 0.01
                };
                if feasible {
                    assert!(
                        WeibullMixture::from_params(&q).nll(xs) >= best - 1e-9,
                        "param {i} {h}"
                    );
                }
            }
        }
        // The clusters are separated: low values belong to the low component.
        assert!(m.posterior_high(0.3) < 0.5);
        assert!(m.posterior_high(0.9) > 0.5);
    }

    #[test]
    fn likelihood_of_many_points_equals_the_sum_of_single_points() {
        // 5 000 points: the product of the (1 + e) factors alone would overflow.
        let xs: Vec<f64> = (0..5000)
            .map(|i| 0.2 + 0.7 * (i % 97) as f64 / 97.0)
            .collect();
        let m = WeibullMixture::from_params(&[0.4, 1.3, 0.5, 2.2, 0.9]);
        let total = m.nll(&xs);
        let by_point: f64 = xs.iter().map(|&x| m.nll(&[x])).sum();
        assert!(total.is_finite());
        assert!(
            (total - by_point).abs() < 1e-9 * by_point.abs(),
            "{total} vs {by_point}"
        );
    }

    #[test]
    fn posteriors_of_many_points_equal_each_point_s() {
        let xs = two_clusters();
        for m in [
            fit(&xs).unwrap(),
            WeibullMixture::from_params(&[0.3, 2.0, 0.2, 5.0, 0.9]),
            WeibullMixture::from_params(&[0.7, 5.0, 0.9, 2.0, 0.2]),
        ] {
            let each: Vec<f64> = xs.iter().map(|&x| m.posterior_high(x)).collect();
            assert_eq!(m.posteriors_high(&xs), each);
        }
        // Whichever component is listed first, the high one has the larger
        // mean: swapping them gives the same posteriors.
        let a = WeibullMixture::from_params(&[0.3, 2.0, 0.2, 5.0, 0.9]);
        let b = WeibullMixture::from_params(&[0.7, 5.0, 0.9, 2.0, 0.2]);
        for (pa, pb) in a.posteriors_high(&xs).iter().zip(b.posteriors_high(&xs)) {
            assert!((pa - pb).abs() < 1e-12, "{pa} {pb}");
        }
    }

    /// Full evaluation, no caching: compute_rpc.py's neg_log_likelihood.
    fn reference_nll_uncached(p: &[f64], xs: &[f64]) -> f64 {
        let pdf =
            |x: f64, k: f64, l: f64| (k / l) * np_pow(x / l, k - 1.0) * (-np_pow(x / l, k)).exp();
        let logs: Vec<f64> = xs
            .iter()
            .map(|&x| (p[0] * pdf(x, p[1], p[2]) + (1.0 - p[0]) * pdf(x, p[3], p[4])).ln())
            .collect();
        -np_sum(&logs)
    }

    #[test]
    fn cached_densities_give_the_full_evaluation_bit_for_bit() {
        let xs: Vec<f64> = (0..37)
            .map(|i| 0.05 + 0.9 * ((i * 7919) % 37) as f64 / 37.0)
            .collect();
        let mut f = ReferenceNll::new(&xs);
        // A base point, its forward-difference steps, a trial point that
        // moves one component only, and points seen before.
        let base = [0.5, 1.0, 1.0, 1.5, 2.0];
        let mut points = vec![base];
        for i in 0..5 {
            let mut q = base;
            q[i] += 1e-8;
            points.push(q);
        }
        points.push([0.4, 1.0, 1.0, 2.5, 0.7]);
        points.push([0.4, 1.0, 1.0, 2.5, 0.70000001]);
        points.push(base);
        points.push([0.41, 3.0, 0.3, 2.5, 0.7]);
        for p in &points {
            assert_eq!(
                f.eval(p).to_bits(),
                reference_nll_uncached(p, &xs).to_bits(),
                "{p:?}"
            );
        }
    }

    #[test]
    fn numpy_pairwise_sum() {
        // Below 8 terms a plain loop; above, 8 partial sums (checked
        // against np.sum on the same values).
        let a: Vec<f64> = (1..=20)
            .map(|i| ((2 * i) as f64).sin() * [1.0, 10.0, 100.0, 1e3, 1e4][i % 5])
            .collect();
        assert_eq!(np_sum(&a[..5]), a[..5].iter().fold(0.0, |s, v| s + v));
        assert_eq!(np_sum(&a).to_bits(), 0x40BC_56EC_A3C2_D79E);
        assert_ne!(np_sum(&a), a.iter().sum::<f64>());
    }

    #[test]
    fn refuses_degenerate_input() {
        for f in [fit, fit_fast] {
            assert!(f(&[0.5]).is_none());
            assert!(f(&[0.5, 0.0]).is_none());
            assert!(f(&[0.5, f64::NAN]).is_none());
        }
    }
}
