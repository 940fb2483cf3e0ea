//! RPC's two-component Weibull mixture (Zhou et al. 2025), fitted to path
//! probabilities by bounded maximum likelihood.
//!
//! Bounds (w ∈ [0.2, 0.8], k, λ ≥ 0.01) are handled by a smooth change of
//! variables (w = 0.2 + 0.6·σ(u), k = 0.01 + softplus(v)); L-BFGS with a
//! backtracking line search then runs unconstrained on (u, v) with analytic
//! gradients, from the paper's start point [0.5, 1, 1, 1.5, 2], and stops by
//! SciPy L-BFGS-B's default rules (relative decrease below 2.22e-9, or every
//! gradient component below 1e-5), as the reference code's `minimize` does.

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

/// SciPy's L-BFGS-B defaults (`ftol` = 1e7 · machine epsilon, `gtol`).
const SCIPY_FTOL: f64 = 2.220_446_049_250_313e-9;
const SCIPY_GTOL: f64 = 1e-5;

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

    /// Negative log-likelihood of `xs`.
    pub fn nll(&self, xs: &[f64]) -> f64 {
        nll_grad(&self.params(), xs, None)
    }

    /// P(high component | x), the high component having the larger mean.
    pub fn posterior_high(&self, x: f64) -> f64 {
        let a = self.w.ln() + ln_weibull(x, self.k1, self.l1);
        let b = (1.0 - self.w).ln() + ln_weibull(x, self.k2, self.l2);
        let p1 = (a - logaddexp(a, b)).exp();
        let (m1, m2) = self.means();
        if m1 >= m2 {
            p1
        } else {
            1.0 - p1
        }
    }
}

/// NLL at raw parameters p; when `grad` is given, fills ∂NLL/∂p.
///
/// Per point: ln z_j = ln x − ln λ_j, z_j^k = exp(k·ln z_j), and the
/// responsibilities r_1 + r_2 = 1 from one exp (a fit evaluates this tens of
/// times for every subset the accuracy curves draw).
fn nll_grad(p: &[f64; 5], xs: &[f64], mut grad: Option<&mut [f64; 5]>) -> f64 {
    let [w, k1, l1, k2, l2] = *p;
    if let Some(g) = grad.as_deref_mut() {
        *g = [0.0; 5];
    }
    let (lw1, lw2) = (w.ln(), (1.0 - w).ln());
    let (lk1, ll1, lk2, ll2) = (k1.ln(), l1.ln(), k2.ln(), l2.ln());
    let mut nll = 0.0;
    for &x in xs {
        let lx = x.ln();
        let (lz1, lz2) = (lx - ll1, lx - ll2);
        let (zk1, zk2) = ((k1 * lz1).exp(), (k2 * lz2).exp());
        // ln of each component's density, then of the weighted mixture.
        let a = lk1 - ll1 + (k1 - 1.0) * lz1 - zk1;
        let b = lk2 - ll2 + (k2 - 1.0) * lz2 - zk2;
        let (la, lb) = (lw1 + a, lw2 + b);
        let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
        if hi == f64::NEG_INFINITY || hi.is_nan() {
            return f64::INFINITY;
        }
        let e = (lo - hi).exp();
        nll -= hi + e.ln_1p();
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
    nll
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

fn to_raw(y: &[f64; 5]) -> [f64; 5] {
    [
        0.2 + 0.6 * sigmoid(y[0]),
        0.01 + softplus(y[1]),
        0.01 + softplus(y[2]),
        0.01 + softplus(y[3]),
        0.01 + softplus(y[4]),
    ]
}

fn from_raw(p: &[f64; 5]) -> [f64; 5] {
    let logit = |s: f64| (s / (1.0 - s)).ln();
    let inv_softplus = |v: f64| if v > 30.0 { v } else { v.exp_m1().ln() };
    [
        logit((p[0] - 0.2) / 0.6),
        inv_softplus(p[1] - 0.01),
        inv_softplus(p[2] - 0.01),
        inv_softplus(p[3] - 0.01),
        inv_softplus(p[4] - 0.01),
    ]
}

/// Objective and gradient in the unconstrained variables.
fn objective(y: &[f64; 5], xs: &[f64], g: &mut [f64; 5]) -> f64 {
    let p = to_raw(y);
    let mut gp = [0.0; 5];
    let f = nll_grad(&p, xs, Some(&mut gp));
    let s0 = sigmoid(y[0]);
    g[0] = gp[0] * 0.6 * s0 * (1.0 - s0);
    for i in 1..5 {
        g[i] = gp[i] * sigmoid(y[i]);
    }
    f
}

fn dot(a: &[f64; 5], b: &[f64; 5]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fit by maximum likelihood. `None` when the data cannot be fitted (fewer
/// than 2 points, a value outside (0, ∞), or no finite optimum).
pub fn fit(xs: &[f64]) -> Option<WeibullMixture> {
    if xs.len() < 2 || xs.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
        return None;
    }
    const MEMORY: usize = 10;
    let mut y = from_raw(&START);
    let mut g = [0.0; 5];
    let mut f = objective(&y, xs, &mut g);
    if !f.is_finite() {
        return None;
    }
    let mut s_hist: Vec<[f64; 5]> = Vec::with_capacity(MEMORY);
    let mut y_hist: Vec<[f64; 5]> = Vec::with_capacity(MEMORY);
    for _ in 0..2000 {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < SCIPY_GTOL {
            break;
        }
        // Two-loop recursion for the L-BFGS direction.
        let mut q = g;
        let mut alpha = vec![0.0; s_hist.len()];
        for i in (0..s_hist.len()).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alpha[i] = rho * dot(&s_hist[i], &q);
            for j in 0..5 {
                q[j] -= alpha[i] * y_hist[i][j];
            }
        }
        if let (Some(s), Some(yv)) = (s_hist.last(), y_hist.last()) {
            let gamma = dot(s, yv) / dot(yv, yv);
            for v in &mut q {
                *v *= gamma;
            }
        }
        for i in 0..s_hist.len() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &q);
            for j in 0..5 {
                q[j] += s_hist[i][j] * (alpha[i] - beta);
            }
        }
        let mut d = q.map(|v| -v);
        if dot(&d, &g) >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            d = g.map(|v| -v);
            s_hist.clear();
            y_hist.clear();
        }
        // Backtracking (Armijo) line search.
        let slope = dot(&d, &g);
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..60 {
            let cand: [f64; 5] = std::array::from_fn(|j| y[j] + step * d[j]);
            let mut gc = [0.0; 5];
            let fc = objective(&cand, xs, &mut gc);
            if fc.is_finite() && fc <= f + 1e-4 * step * slope {
                accepted = Some((cand, fc, gc));
                break;
            }
            step *= 0.5;
        }
        let Some((yn, fn_, gn)) = accepted else { break };
        let s: [f64; 5] = std::array::from_fn(|j| yn[j] - y[j]);
        let yv: [f64; 5] = std::array::from_fn(|j| gn[j] - g[j]);
        if dot(&s, &yv) > 1e-12 {
            if s_hist.len() == MEMORY {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(yv);
        }
        // SciPy's L-BFGS-B stopping rule (the reference code's optimiser):
        // relative decrease below ftol = 2.22e-9.
        let done = (f - fn_).abs() <= SCIPY_FTOL * f.abs().max(fn_.abs()).max(1.0);
        y = yn;
        f = fn_;
        g = gn;
        if done {
            break;
        }
    }
    let p = to_raw(&y);
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
        let p = [0.4, 1.3, 0.5, 2.2, 0.9];
        let mut g = [0.0; 5];
        nll_grad(&p, &xs, Some(&mut g));
        for i in 0..5 {
            let h = 1e-6;
            let mut a = p;
            let mut b = p;
            a[i] += h;
            b[i] -= h;
            let fd = (nll_grad(&a, &xs, None) - nll_grad(&b, &xs, None)) / (2.0 * h);
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
        let m = fit(&xs).unwrap();
        let p = m.params();
        let best = m.nll(&xs);
        assert!(best < WeibullMixture::from_params(&START).nll(&xs));
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
                        WeibullMixture::from_params(&q).nll(&xs) >= best - 1e-9,
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
    fn refuses_degenerate_input() {
        assert!(fit(&[0.5]).is_none());
        assert!(fit(&[0.5, 0.0]).is_none());
        assert!(fit(&[0.5, f64::NAN]).is_none());
    }
}
