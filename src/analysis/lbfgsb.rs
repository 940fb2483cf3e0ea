//! L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995; version 3.0, Morales & Nocedal
//! 2011), ported from SciPy 1.15's C translation (scipy/optimize/__lbfgsb.c)
//! together with the driver of `scipy.optimize.minimize(method="L-BFGS-B")`
//! (scipy/optimize/_lbfgsb_py.py) and, for objectives without a gradient,
//! SciPy's forward-difference gradient (_numdiff.py, ScalarFunction).
//!
//! The aim is to follow SciPy's iterates bit for bit, so the port keeps the C
//! code's operation order, its storage layout (column-major work arrays, the
//! circular L-BFGS memory) and its control flow, restarts and quirks
//! included. Each function names the C function it ports. The BLAS and
//! LAPACK calls are reproduced as the OpenBLAS 0.3.28 kernels that SciPy's
//! wheels ship evaluate them on x86-64 (SkylakeX kernels): fused
//! multiply-adds, their summation orders, and dnrm2's 80-bit x87
//! accumulation (see the `blas` module).

// Loops index several arrays at once, as the C code does.
#![allow(clippy::needless_range_loop)]

/// Options of `scipy.optimize.minimize(method="L-BFGS-B")`, with SciPy's
/// defaults.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Number of correction pairs kept (`maxcor`, m).
    pub maxcor: usize,
    /// Stop when (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ ftol.
    pub ftol: f64,
    /// Stop when the projected gradient's largest component is ≤ gtol.
    pub gtol: f64,
    /// Absolute step of the forward differences (`eps`).
    pub eps: f64,
    /// Limit on function evaluations, finite-difference ones included,
    /// checked after each iteration (as SciPy does).
    pub maxfun: usize,
    pub maxiter: usize,
    /// Limit on function evaluations in one line search.
    pub maxls: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            maxcor: 10,
            ftol: 2.220_446_049_250_313e-9,
            gtol: 1e-5,
            eps: 1e-8,
            maxfun: 15000,
            maxiter: 15000,
            maxls: 20,
        }
    }
}

/// How the minimisation ended (SciPy's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `status == 0`: a convergence test was met.
    Converged,
    /// `status == 1`: `maxiter` or `maxfun` reached.
    LimitReached,
    /// `status == 2`: the line search failed with no correction pairs to
    /// drop (ABNORMAL), or the input was rejected (ERROR).
    Failed,
}

#[derive(Debug, Clone)]
pub struct MinimizeResult {
    pub x: Vec<f64>,
    /// SciPy's `fun`: the last value the objective returned. After an
    /// abnormal line-search end that is the rejected trial point's value,
    /// while `x` is the last accepted point (as in SciPy).
    pub f: f64,
    pub g: Vec<f64>,
    pub nit: usize,
    /// Objective evaluations (finite-difference ones included).
    pub nfev: usize,
    pub status: Status,
    /// SciPy's message, e.g. "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH".
    pub message: &'static str,
}

/// Minimise f with a gradient supplied by `fg(x, g) -> f` (fills g), within
/// `lower ≤ x ≤ upper` (±∞ for no bound), as SciPy's
/// `minimize(fun, x0, jac=True, bounds=..., method="L-BFGS-B")`.
pub fn minimize(
    mut fg: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    options: &Options,
) -> MinimizeResult {
    let mut nfev = 0usize;
    let mut eval = |x: &[f64], g: &mut [f64]| {
        nfev += 1;
        fg(x, g)
    };
    let mut r = driver(&mut eval, x0, lower, upper, options, &|| 0);
    r.nfev = nfev;
    r
}

/// Minimise f without a gradient, as SciPy's `minimize(fun, x0,
/// bounds=..., method="L-BFGS-B")` does: forward differences with the
/// absolute step `options.eps`, kept inside the bounds, evaluated through
/// SciPy's ScalarFunction memo (a point equal to the last one evaluated is
/// not evaluated again). `nfev` counts every evaluation of f.
pub fn minimize_numdiff(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    options: &Options,
) -> MinimizeResult {
    let n = x0.len();
    let nfev = std::cell::Cell::new(0usize);
    let mut memo: Option<(Vec<f64>, f64, Vec<f64>)> = None;
    let mut xh = vec![0.0; n];
    let eps = options.eps;
    let mut eval = |x: &[f64], g: &mut [f64]| -> f64 {
        // ScalarFunction.fun_and_grad: np.array_equal(x, self.x) reuses.
        if let Some((mx, mf, mg)) = &memo {
            if mx.iter().zip(x).all(|(a, b)| a == b) {
                g.copy_from_slice(mg);
                return *mf;
            }
        }
        nfev.set(nfev.get() + 1);
        let f0 = f(x);
        approx_gradient_2point(&mut f, x, f0, eps, lower, upper, &mut xh, g, &nfev);
        memo = Some((x.to_vec(), f0, g.to_vec()));
        f0
    };
    let nfev_ref = &nfev;
    let mut r = driver(&mut eval, x0, lower, upper, options, &|| nfev_ref.get());
    r.nfev = nfev.get();
    r
}

/// SciPy's `approx_derivative(fun, x0, method='2-point', abs_step=eps,
/// f0=f0, bounds=...)` (_numdiff.py): h = eps, or √ε·sign(x)·max(1, |x|)
/// where x + eps rounds back to x; then `_adjust_scheme_to_bounds`
/// ('1-sided', one step): a step that leaves the box is reversed when the
/// reverse fits, else replaced by the distance to the farther bound; the
/// divisor is the representable step (x + h) − x.
#[allow(clippy::too_many_arguments)]
fn approx_gradient_2point(
    f: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    f0: f64,
    eps: f64,
    lower: &[f64],
    upper: &[f64],
    x1: &mut [f64],
    g: &mut [f64],
    nfev: &std::cell::Cell<usize>,
) {
    // _eps_for_method('2-point') for float64: EPS**0.5.
    const SQRT_EPS: f64 = 1.490_116_119_384_765_6e-8;
    x1.copy_from_slice(x0);
    let adjust = !all_unbounded(lower, upper);
    for i in 0..x0.len() {
        let x = x0[i];
        let sign = if x >= 0.0 { 1.0 } else { -1.0 };
        let mut h = eps;
        if (x + h) - x == 0.0 {
            h = SQRT_EPS * sign * x.abs().max(1.0);
        }
        let (lb, ub) = (lower[i], upper[i]);
        if adjust {
            let lower_dist = x - lb;
            let upper_dist = ub - x;
            let xt = x + h;
            let violated = xt < lb || xt > ub;
            // np.maximum propagates NaN.
            let reach = if lower_dist.is_nan() || upper_dist.is_nan() {
                f64::NAN
            } else {
                lower_dist.max(upper_dist)
            };
            let fitting = h.abs() <= reach;
            if violated && fitting {
                h = -h;
            }
            if !fitting {
                if upper_dist >= lower_dist {
                    h = upper_dist;
                } else if upper_dist < lower_dist {
                    h = -lower_dist;
                }
            }
        }
        x1[i] = x + h;
        let dx = x1[i] - x;
        nfev.set(nfev.get() + 1);
        let df = f(x1) - f0;
        g[i] = df / dx;
        x1[i] = x;
    }
}

fn all_unbounded(lower: &[f64], upper: &[f64]) -> bool {
    lower.iter().all(|&l| l == f64::NEG_INFINITY) && upper.iter().all(|&u| u == f64::INFINITY)
}

// ---------------------------------------------------------------------------
// Driver: _minimize_lbfgsb's loop around setulb, with mainlb's control flow.

const EPSMCH: f64 = 2.220_446_049_250_313e-16;

const MSG_CONV_GRAD: &str = "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL";
const MSG_CONV_F: &str = "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH";
const MSG_STOP_ITER: &str = "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT";
const MSG_STOP_FUN: &str = "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT";
const MSG_ABNORMAL: &str = "ABNORMAL: ";
const MSG_ERROR_NOFEAS: &str = "ERROR: NO FEASIBLE SOLUTION";
const MSG_ERROR_N: &str = "ERROR: N <= 0";
const MSG_ERROR_M: &str = "ERROR: M <= 0";
const MSG_ERROR_FACTR: &str = "ERROR: FACTR < 0";

/// `_minimize_lbfgsb` + `setulb` + `mainlb`: the reverse-communication loop
/// unrolled into direct calls of `eval`, which returns f and fills g.
/// `nfev_now` reports the evaluations so far for the `maxfun` check.
fn driver(
    eval: &mut dyn FnMut(&[f64], &mut [f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    options: &Options,
    nfev_now: &dyn Fn() -> usize,
) -> MinimizeResult {
    let n = x0.len();
    assert!(lower.len() == n && upper.len() == n, "bounds must match x0");
    let m = options.maxcor;
    let pgtol = options.gtol;
    let factr = options.ftol / EPSMCH;
    let maxls = options.maxls.max(1);

    // x0 = np.clip(x0, lb, ub); nbd from which bounds are finite.
    let mut x: Vec<f64> = (0..n)
        .map(|i| {
            let v = x0[i];
            // np.clip = minimum(maximum(x, lb), ub), NaN-propagating.
            let v = if v < lower[i] { lower[i] } else { v };
            if v > upper[i] {
                upper[i]
            } else {
                v
            }
        })
        .collect();
    let mut nbd = vec![0i32; n];
    let mut l = vec![0.0; n];
    let mut u = vec![0.0; n];
    for i in 0..n {
        let lf = !lower[i].is_infinite();
        let uf = !upper[i].is_infinite();
        if lf {
            l[i] = lower[i];
        }
        if uf {
            u[i] = upper[i];
        }
        nbd[i] = match (lf, uf) {
            (false, false) => 0,
            (true, false) => 1,
            (true, true) => 2,
            (false, true) => 3,
        };
    }
    let mut g = vec![0.0; n];

    let result =
        |x: Vec<f64>, f: f64, g: Vec<f64>, nit: usize, status: Status, message| MinimizeResult {
            x,
            f,
            g,
            nit,
            nfev: 0,
            status,
            message,
        };

    // errclb
    let mut error = None;
    if n == 0 {
        error = Some(MSG_ERROR_N);
    }
    if m == 0 {
        error = Some(MSG_ERROR_M);
    }
    if factr < 0.0 {
        error = Some(MSG_ERROR_FACTR);
    }
    for i in 0..n {
        if nbd[i] == 2 && l[i] > u[i] {
            error = Some(MSG_ERROR_NOFEAS);
        }
    }
    // ScalarFunction evaluates f and g at x0 before setulb is first called.
    let mut f_py = eval(&x, &mut g);
    if let Some(msg) = error {
        return result(x, f_py, g, 0, Status::Failed, msg);
    }

    // Work arrays, laid out as setulb partitions wa.
    let mut ws = vec![0.0; m * n];
    let mut wy = vec![0.0; m * n];
    let mut sy = vec![0.0; m * m];
    let mut ss = vec![0.0; m * m];
    let mut wt = vec![0.0; m * m];
    let mut wn = vec![0.0; 4 * m * m];
    let mut snd = vec![0.0; 4 * m * m];
    let mut z = vec![0.0; n];
    let mut r = vec![0.0; n];
    let mut d = vec![0.0; n];
    let mut t = vec![0.0; n];
    let mut xp = vec![0.0; n];
    let mut wa = vec![0.0; 8 * m];
    let mut index = vec![0usize; n];
    let mut iwhere = vec![0i32; n];
    let mut indx2 = vec![0usize; n];

    // mainlb: START
    let mut col = 0usize;
    let mut head = 0usize;
    let mut theta = 1.0f64;
    let mut iupdat = 0usize;
    let mut updatd = false;
    let mut itail = 0usize;
    let mut ileave = 0usize;
    let mut nenter = 0usize;
    let mut fold;
    let mut dnorm;
    let mut gd;
    let mut stp;
    let mut gdold = 0.0f64;
    let mut dtd;
    let mut iter = 0usize;
    let mut nfree = n;
    let tol = factr * EPSMCH;
    let mut info: i32 = 0;
    let mut wrk = false;
    let mut ls = Dcsrch::default();

    let (_prjctd, cnstnd, boxed) = active(&l, &u, &nbd, &mut x, &mut iwhere);

    // The f and g that mainlb sees: SciPy passes f by value, so when mainlb
    // restores the previous point after a failed line search, its f is
    // fold while the driver's (and the result's) f stays the last value
    // returned by the objective.
    let mut f = f_py;
    let mut nit = 0usize;

    // LINE111
    let mut sbgnrm = projgr(&l, &u, &nbd, &x, &g);
    if sbgnrm <= pgtol {
        return result(x, f_py, g, nit, Status::Converged, MSG_CONV_GRAD);
    }

    'iteration: loop {
        // LINE222
        if !cnstnd && col > 0 {
            z.copy_from_slice(&x);
            wrk = updatd;
        } else {
            // Generalized Cauchy point.
            let (p_c, rest) = wa.split_at_mut(4 * m);
            let (wbp, v) = rest.split_at_mut(2 * m);
            cauchy(
                n,
                &x,
                &l,
                &u,
                &nbd,
                &g,
                &mut indx2,
                &mut iwhere,
                &mut t,
                &mut d,
                &mut z,
                m,
                &wy,
                &ws,
                &sy,
                &wt,
                theta,
                col,
                head,
                p_c,
                wbp,
                v,
                sbgnrm,
                &mut info,
            );
            if info != 0 {
                // Singular triangular system: refresh the memory.
                info = 0;
                col = 0;
                head = 0;
                theta = 1.0;
                iupdat = 0;
                updatd = false;
                continue 'iteration;
            }
            freev(
                n,
                &mut nfree,
                &mut index,
                &mut nenter,
                &mut ileave,
                &mut indx2,
                &iwhere,
                &mut wrk,
                updatd,
                cnstnd,
                iter,
            );
        }
        // LINE333: subspace minimisation unless no free variables or B = θI.
        if nfree != 0 && col != 0 {
            if wrk {
                formk(
                    n, nfree, &index, nenter, ileave, &indx2, iupdat, updatd, &mut wn, &mut snd, m,
                    &ws, &wy, &sy, theta, col, head, &mut info,
                );
            }
            if info == 0 {
                cmprlb(
                    n, m, &x, &g, &ws, &wy, &sy, &wt, &z, &mut r, &mut wa, &index, theta, col,
                    head, nfree, cnstnd, &mut info,
                );
                if info == 0 {
                    subsm(
                        n, m, nfree, &index, &l, &u, &nbd, &mut z, &mut r, &mut xp, &ws, &wy,
                        theta, &x, &g, col, head, &mut wa, &wn, &mut info,
                    );
                }
            }
            if info != 0 {
                info = 0;
                col = 0;
                head = 0;
                theta = 1.0;
                iupdat = 0;
                updatd = false;
                continue 'iteration;
            }
        }
        // LINE555: search direction d = z − x.
        for i in 0..n {
            d[i] = z[i] - x[i];
        }

        // LINE666: lnsrlb, first call.
        dnorm = blas::dnrm2(&d);
        dtd = dnorm * dnorm;
        let mut stpmx = 1.0e10;
        if cnstnd {
            if iter == 0 {
                stpmx = 1.0;
            } else {
                for i in 0..n {
                    let a1 = d[i];
                    if nbd[i] != 0 {
                        if a1 < 0.0 && nbd[i] <= 2 {
                            let a2 = l[i] - x[i];
                            if a2 >= 0.0 {
                                stpmx = 0.0;
                            } else if a1 * stpmx < a2 {
                                stpmx = a2 / a1;
                            }
                        } else if a1 > 0.0 && nbd[i] >= 2 {
                            let a2 = u[i] - x[i];
                            if a2 <= 0.0 {
                                stpmx = 0.0;
                            } else if a1 * stpmx > a2 {
                                stpmx = a2 / a1;
                            }
                        }
                    }
                }
            }
        }
        stp = if iter == 0 && !boxed {
            (1.0 / dnorm).min(stpmx)
        } else {
            1.0
        };
        t.copy_from_slice(&x);
        r.copy_from_slice(&g);
        fold = f;
        let mut ifun = 0usize;
        let mut iback = 0usize;
        ls.task = LsTask::Start;
        loop {
            // LINE556
            gd = blas::ddot(&g, &d);
            let mut ls_info = 0;
            if ifun == 0 {
                gdold = gd;
                if gd >= 0.0 {
                    // Not a descent direction (rounding, or NaN).
                    ls_info = -4;
                }
            }
            let mut request = false;
            if ls_info == 0 {
                ls.dcsrch(f, gd, &mut stp, 1e-3, 0.9, 0.1, 0.0, stpmx);
                if ls.task != LsTask::Convergence && ls.task != LsTask::Warning {
                    request = true;
                    ifun += 1;
                    iback = ifun - 1;
                    if stp == 1.0 {
                        x.copy_from_slice(&z);
                    } else {
                        for i in 0..n {
                            let mut xi = stp * d[i] + t[i];
                            if nbd[i] == 1 || nbd[i] == 2 {
                                xi = fmax(xi, l[i]);
                            }
                            if nbd[i] == 2 || nbd[i] == 3 {
                                xi = fmin(xi, u[i]);
                            }
                            x[i] = xi;
                        }
                    }
                }
            }
            if ls_info != 0 || iback >= maxls {
                // Back to the last accepted point.
                x.copy_from_slice(&t);
                g.copy_from_slice(&r);
                f = fold;
                if col == 0 {
                    // Abnormal termination (the driver does not count it).
                    return result(x, f_py, g, nit, Status::Failed, MSG_ABNORMAL);
                }
                // Refresh the memory and restart the iteration.
                col = 0;
                head = 0;
                theta = 1.0;
                iupdat = 0;
                updatd = false;
                continue 'iteration;
            }
            if request {
                f_py = eval(&x, &mut g);
                f = f_py;
                continue;
            }
            break;
        }
        // NEW_X
        iter += 1;
        sbgnrm = projgr(&l, &u, &nbd, &x, &g);
        // The driver counts the iteration and checks its limits.
        nit += 1;
        if nit >= options.maxiter {
            return result(x, f_py, g, nit, Status::LimitReached, MSG_STOP_ITER);
        }
        if nfev_now() > options.maxfun {
            return result(x, f_py, g, nit, Status::LimitReached, MSG_STOP_FUN);
        }
        // LINE777: termination tests.
        if sbgnrm <= pgtol {
            return result(x, f_py, g, nit, Status::Converged, MSG_CONV_GRAD);
        }
        let ddum = fmax(fmax(fold.abs(), f.abs()), 1.0);
        if fold - f <= tol * ddum {
            return result(x, f_py, g, nit, Status::Converged, MSG_CONV_F);
        }
        // s = new x − old x (in d, scaled below), y = new g − old g (in r).
        for i in 0..n {
            r[i] = g[i] - r[i];
        }
        let rnorm = blas::dnrm2(&r);
        let rr = rnorm * rnorm;
        let dr;
        let ddum;
        if stp == 1.0 {
            dr = gd - gdold;
            ddum = -gdold;
        } else {
            dr = (gd - gdold) * stp;
            blas::dscal(stp, &mut d);
            ddum = -gdold * stp;
        }
        if dr <= EPSMCH * ddum {
            // Skip the update: curvature condition fails.
            updatd = false;
            continue 'iteration;
        }
        updatd = true;
        iupdat += 1;
        matupd(
            n, m, &mut ws, &mut wy, &mut sy, &mut ss, &d, &r, &mut itail, iupdat, &mut col,
            &mut head, &mut theta, rr, dr, stp, dtd,
        );
        if formt(m, &mut wt, &sy, &ss, col, theta) != 0 {
            info = 0;
            col = 0;
            head = 0;
            theta = 1.0;
            iupdat = 0;
            updatd = false;
        }
    }
}

/// C's fmax/fmin: a NaN argument yields the other argument (as Rust's).
#[inline]
fn fmax(a: f64, b: f64) -> f64 {
    a.max(b)
}
#[inline]
fn fmin(a: f64, b: f64) -> f64 {
    a.min(b)
}

/// `active`: project x onto the box and initialise iwhere.
/// Returns (prjctd, cnstnd, boxed).
fn active(
    l: &[f64],
    u: &[f64],
    nbd: &[i32],
    x: &mut [f64],
    iwhere: &mut [i32],
) -> (bool, bool, bool) {
    let n = x.len();
    let mut prjctd = false;
    let mut cnstnd = false;
    let mut boxed = true;
    for i in 0..n {
        if nbd[i] > 0 {
            if nbd[i] <= 2 && x[i] <= l[i] {
                if x[i] < l[i] {
                    prjctd = true;
                    x[i] = l[i];
                }
            } else if nbd[i] >= 2 && x[i] >= u[i] && x[i] > u[i] {
                prjctd = true;
                x[i] = u[i];
            }
        }
    }
    for i in 0..n {
        if nbd[i] != 2 {
            boxed = false;
        }
        if nbd[i] == 0 {
            iwhere[i] = -1;
        } else {
            cnstnd = true;
            iwhere[i] = if nbd[i] == 2 && u[i] - l[i] <= 0.0 {
                3
            } else {
                0
            };
        }
    }
    (prjctd, cnstnd, boxed)
}

/// `bmv`: product of the 2m×2m middle matrix of the compact L-BFGS formula
/// with the 2col-vector v, into p (uses sy and the Cholesky factor in wt).
fn bmv(m: usize, sy: &[f64], wt: &[f64], col: usize, v: &[f64], p: &mut [f64], info: &mut i32) {
    if col == 0 {
        return;
    }
    // PART I: solve [ D^(1/2)      O ] [ p1 ] = [ v1 ]
    //               [ -L*D^(-1/2)  J ] [ p2 ]   [ v2 ].
    p[col] = v[col];
    for i in 1..col {
        let i2 = col + i;
        let mut ssum = 0.0;
        for k in 0..i {
            ssum += sy[i + m * k] * v[k] / sy[k + m * k];
        }
        p[i2] = v[i2] + ssum;
    }
    *info = blas::dtrtrs_upper(true, col, 1, wt, 0, m, &mut p[col..], col);
    if *info != 0 {
        return;
    }
    for i in 0..col {
        p[i] = v[i] / sy[i + m * i].sqrt();
    }
    // PART II: solve [ -D^(1/2)   D^(-1/2)*L'  ] [ p1 ] = [ p1 ]
    //                [  0         J'           ] [ p2 ]   [ p2 ].
    *info = blas::dtrtrs_upper(false, col, 1, wt, 0, m, &mut p[col..], col);
    if *info != 0 {
        return;
    }
    for i in 0..col {
        p[i] = -p[i] / sy[i + m * i].sqrt();
    }
    for i in 0..col {
        let mut ssum = 0.0;
        for k in i + 1..col {
            ssum += sy[k + m * i] * p[col + k] / sy[i + m * i];
        }
        p[i] += ssum;
    }
}

/// `cauchy`: the generalized Cauchy point along the projected steepest
/// descent path, by examining the breakpoints in order (heap sort).
/// `p_c` holds p (2m) then c (2m); `wbp` and `v` are 2m each.
#[allow(clippy::too_many_arguments)]
fn cauchy(
    n: usize,
    x: &[f64],
    l: &[f64],
    u: &[f64],
    nbd: &[i32],
    g: &[f64],
    iorder: &mut [usize],
    iwhere: &mut [i32],
    t: &mut [f64],
    d: &mut [f64],
    xcp: &mut [f64],
    m: usize,
    wy: &[f64],
    ws: &[f64],
    sy: &[f64],
    wt: &[f64],
    theta: f64,
    col: usize,
    head: usize,
    p_c: &mut [f64],
    wbp: &mut [f64],
    v: &mut [f64],
    sbgnrm: f64,
    info: &mut i32,
) {
    let (p, c) = p_c.split_at_mut(2 * m);
    let mut tl = 0.0;
    let mut tu = 0.0;
    if sbgnrm <= 0.0 {
        xcp.copy_from_slice(x);
        return;
    }
    let mut bnded = true;
    let mut nfree = n;
    // nbreak counts breakpoints (C: nbreak = -1 + count).
    let mut nbreak: usize = 0;
    let mut ibkmin = 0usize;
    let mut bkmin = 0.0;
    let col2 = 2 * col;
    let mut f1 = 0.0;
    p[..col2].fill(0.0);

    for i in 0..n {
        let neggi = -g[i];
        if iwhere[i] != 3 && iwhere[i] != -1 {
            if nbd[i] <= 2 {
                tl = x[i] - l[i];
            }
            if nbd[i] >= 2 {
                tu = u[i] - x[i];
            }
            let xlower = nbd[i] <= 2 && tl <= 0.0;
            let xupper = nbd[i] >= 2 && tu <= 0.0;
            iwhere[i] = 0;
            if xlower {
                if neggi <= 0.0 {
                    iwhere[i] = 1;
                }
            } else if xupper {
                if neggi >= 0.0 {
                    iwhere[i] = 2;
                }
            } else if neggi.abs() <= 0.0 {
                iwhere[i] = -3;
            }
        }
        let mut pointr = head;
        if iwhere[i] != 0 && iwhere[i] != -1 {
            d[i] = 0.0;
        } else {
            d[i] = neggi;
            f1 -= neggi * neggi;
            for j in 0..col {
                p[j] += wy[i + n * pointr] * neggi;
                p[col + j] += ws[i + n * pointr] * neggi;
                pointr = (pointr + 1) % m;
            }
            if nbd[i] <= 2 && nbd[i] != 0 && neggi < 0.0 {
                // x(i) + d(i) is bounded; compute t(i).
                iorder[nbreak] = i;
                t[nbreak] = tl / (-neggi);
                if nbreak == 0 || t[nbreak] < bkmin {
                    bkmin = t[nbreak];
                    ibkmin = nbreak;
                }
                nbreak += 1;
            } else if nbd[i] >= 2 && neggi > 0.0 {
                iorder[nbreak] = i;
                t[nbreak] = tu / neggi;
                if nbreak == 0 || t[nbreak] < bkmin {
                    bkmin = t[nbreak];
                    ibkmin = nbreak;
                }
                nbreak += 1;
            } else {
                // x(i) + d(i) is not bounded.
                nfree -= 1;
                iorder[nfree] = i;
                if neggi.abs() > 0.0 {
                    bnded = false;
                }
            }
        }
    }
    // The indices of the nonzero components of d are now stored in
    // iorder[0..nbreak] and iorder[nfree..n]; the smallest of the
    // nbreak breakpoints is in t[ibkmin] = bkmin.
    if theta != 1.0 {
        blas::dscal(theta, &mut p[col..col2]);
    }
    xcp.copy_from_slice(x);
    if nbreak == 0 && nfree == n {
        // d is zero: the GCP is x.
        return;
    }
    c[..col2].fill(0.0);
    let mut f2 = -theta * f1;
    let f2_org = f2;
    if col > 0 {
        bmv(m, sy, wt, col, p, v, info);
        if *info != 0 {
            return;
        }
        f2 -= blas::ddot(&v[..col2], &p[..col2]);
    }
    let mut dtm = -f1 / f2;
    let mut tsum = 0.0;
    // C: nleft = nbreak - 1 (signed).
    let nbreak_c = nbreak as isize - 1;
    let mut reached_999 = false;
    if nbreak_c != -1 {
        let mut nleft = nbreak_c;
        let mut cycle = 0usize;
        let mut tj = 0.0;
        loop {
            // Next breakpoint.
            let tj0 = tj;
            let ibp;
            if cycle == 0 {
                tj = bkmin;
                ibp = iorder[ibkmin];
            } else {
                if cycle == 1 && ibkmin as isize != nbreak_c {
                    // Replace the already used smallest breakpoint with the
                    // one at nbreak before building the heap.
                    t[ibkmin] = t[nbreak_c as usize];
                    iorder[ibkmin] = iorder[nbreak_c as usize];
                }
                hpsolb(nleft as usize, t, iorder, cycle - 1);
                tj = t[nleft as usize];
                ibp = iorder[nleft as usize];
            }
            let dt = tj - tj0;
            if dtm < dt {
                // The minimiser is within this segment.
                break;
            }
            // Otherwise fix one variable and reset the quantities.
            tsum += dt;
            nleft -= 1;
            cycle += 1;
            let dibp = d[ibp];
            d[ibp] = 0.0;
            let zibp;
            if dibp > 0.0 {
                zibp = u[ibp] - x[ibp];
                xcp[ibp] = u[ibp];
                iwhere[ibp] = 2;
            } else {
                zibp = l[ibp] - x[ibp];
                xcp[ibp] = l[ibp];
                iwhere[ibp] = 1;
            }
            if nleft == -1 && nbreak == n {
                // All n variables are fixed.
                dtm = dt;
                reached_999 = true;
                break;
            }
            let dibp2 = dibp * dibp;
            f1 = f1 + dt * f2 + dibp2 - theta * dibp * zibp;
            f2 -= theta * dibp2;
            if col > 0 {
                blas::daxpy(dt, &p[..col2], &mut c[..col2]);
                // wbp = row of W at index ibp.
                let mut pointr = head;
                for j in 0..col {
                    wbp[j] = wy[ibp + n * pointr];
                    wbp[col + j] = theta * ws[ibp + n * pointr];
                    pointr = (pointr + 1) % m;
                }
                bmv(m, sy, wt, col, wbp, v, info);
                if *info != 0 {
                    return;
                }
                let wmc = blas::ddot(&c[..col2], &v[..col2]);
                let wmp = blas::ddot(&p[..col2], &v[..col2]);
                let wmw = blas::ddot(&wbp[..col2], &v[..col2]);
                // p = p − dibp·wbp
                blas::daxpy(-dibp, &wbp[..col2], &mut p[..col2]);
                f1 += dibp * wmc;
                f2 = f2 + dibp * 2.0 * wmp - dibp2 * wmw;
            }
            f2 = fmax(EPSMCH * f2_org, f2);
            if nleft >= 0 {
                dtm = -f1 / f2;
            } else if bnded {
                dtm = 0.0;
                break;
            } else {
                dtm = -f1 / f2;
                break;
            }
        }
    }
    if !reached_999 {
        // LINE888
        if dtm <= 0.0 {
            dtm = 0.0;
        }
        tsum += dtm;
        // Move the free variables and those whose breakpoints were not reached.
        blas::daxpy(tsum, d, xcp);
    }
    // LINE999: c = c + dtm·p, W'(xcp − x) for the subspace minimisation.
    if col > 0 {
        blas::daxpy(dtm, &p[..col2], &mut c[..col2]);
    }
}

/// `cmprlb`: r = −Z'B(xcp − x) − Z'g, using wa[2m..4m] = W'(xcp − x)
/// from `cauchy`.
#[allow(clippy::too_many_arguments)]
fn cmprlb(
    n: usize,
    m: usize,
    x: &[f64],
    g: &[f64],
    ws: &[f64],
    wy: &[f64],
    sy: &[f64],
    wt: &[f64],
    z: &[f64],
    r: &mut [f64],
    wa: &mut [f64],
    index: &[usize],
    theta: f64,
    col: usize,
    head: usize,
    nfree: usize,
    cnstnd: bool,
    info: &mut i32,
) {
    if !cnstnd && col > 0 {
        for i in 0..n {
            r[i] = -g[i];
        }
    } else {
        for i in 0..nfree {
            let k = index[i];
            r[i] = -theta * (z[k] - x[k]) - g[k];
        }
        let (out, rest) = wa.split_at_mut(2 * m);
        bmv(m, sy, wt, col, &rest[..2 * m], out, info);
        if *info != 0 {
            *info = -8;
            return;
        }
        let mut pointr = head;
        for j in 0..col {
            let a1 = wa[j];
            let a2 = theta * wa[col + j];
            for i in 0..nfree {
                let k = index[i];
                r[i] = r[i] + wy[k + n * pointr] * a1 + ws[k + n * pointr] * a2;
            }
            pointr = (pointr + 1) % m;
        }
    }
}

/// `formk`: form and factorise (LEL') the 2col×2col matrix K of the
/// subspace problem, updating its inner products incrementally from the
/// variables that entered or left the free set.
#[allow(clippy::too_many_arguments)]
fn formk(
    n: usize,
    nsub: usize,
    ind: &[usize],
    nenter: usize,
    ileave: usize,
    indx2: &[usize],
    iupdat: usize,
    updatd: bool,
    wn: &mut [f64],
    wn1: &mut [f64],
    m: usize,
    ws: &[f64],
    wy: &[f64],
    sy: &[f64],
    theta: f64,
    col: usize,
    head: usize,
    info: &mut i32,
) {
    let m2 = 2 * m;
    let upcl;
    // Form the lower triangular part of WN1 = [Y' ZZ'Y   L_a'+R_z']
    //                                         [L_a+R_z   S'AA'S   ].
    if updatd {
        if iupdat > m {
            // Shift the old part of WN1.
            for jy in 0..m - 1 {
                let js = m + jy;
                let len = m - (jy + 1);
                for q in 0..len {
                    wn1[jy + m2 * jy + q] = wn1[(jy + 1) + m2 * (jy + 1) + q];
                }
                for q in 0..len {
                    wn1[js + m2 * js + q] = wn1[(js + 1) + m2 * (js + 1) + q];
                }
                for q in 0..m - 1 {
                    wn1[m + m2 * jy + q] = wn1[(m + 1) + m2 * (jy + 1) + q];
                }
            }
        }
        // Put new rows in blocks (1,1), (2,1) and (2,2).
        let (pbegin, pend, dbegin, dend) = (0, nsub, nsub, n);
        let iy = col - 1;
        let is = m + col - 1;
        let mut ipntr = head + col - 1;
        if ipntr >= m {
            ipntr -= m;
        }
        let mut jpntr = head;
        for jy in 0..col {
            let js = m + jy;
            let mut temp1 = 0.0;
            let mut temp2 = 0.0;
            let mut temp3 = 0.0;
            // Sum over the free variables.
            for k in pbegin..pend {
                let k1 = ind[k];
                temp1 += wy[k1 + n * ipntr] * wy[k1 + n * jpntr];
            }
            // Sum over the active variables.
            for k in dbegin..dend {
                let k1 = ind[k];
                temp2 += ws[k1 + n * ipntr] * ws[k1 + n * jpntr];
                temp3 += ws[k1 + n * ipntr] * wy[k1 + n * jpntr];
            }
            wn1[iy + m2 * jy] = temp1;
            wn1[is + m2 * js] = temp2;
            wn1[is + m2 * jy] = temp3;
            jpntr = (jpntr + 1) % m;
        }
        // Put new column in block (2,1).
        let jy = col - 1;
        let mut jpntr = head + col - 1;
        if jpntr >= m {
            jpntr -= m;
        }
        let mut ipntr = head;
        for i in 0..col {
            let is = m + i;
            let mut temp3 = 0.0;
            for k in pbegin..pend {
                let k1 = ind[k];
                temp3 += ws[k1 + n * ipntr] * wy[k1 + n * jpntr];
            }
            ipntr = (ipntr + 1) % m;
            wn1[is + m2 * jy] = temp3;
        }
        upcl = col - 1;
    } else {
        upcl = col;
    }
    // Modify the old parts in blocks (1,1) and (2,2) for the changes in
    // the set of free variables.
    let mut ipntr = head;
    for iy in 0..upcl {
        let is = m + iy;
        let mut jpntr = head;
        for jy in 0..=iy {
            let js = m + jy;
            let (mut temp1, mut temp2, mut temp3, mut temp4) = (0.0, 0.0, 0.0, 0.0);
            for &k1 in &indx2[..nenter] {
                temp1 += wy[k1 + n * ipntr] * wy[k1 + n * jpntr];
                temp2 += ws[k1 + n * ipntr] * ws[k1 + n * jpntr];
            }
            for &k1 in &indx2[ileave..n] {
                temp3 += wy[k1 + n * ipntr] * wy[k1 + n * jpntr];
                temp4 += ws[k1 + n * ipntr] * ws[k1 + n * jpntr];
            }
            wn1[iy + m2 * jy] = wn1[iy + m2 * jy] + temp1 - temp3;
            wn1[is + m2 * js] = wn1[is + m2 * js] - temp2 + temp4;
            jpntr = (jpntr + 1) % m;
        }
        ipntr = (ipntr + 1) % m;
    }
    // Modify the old parts in block (2,1).
    let mut ipntr = head;
    for is in m..m + upcl {
        let mut jpntr = head;
        for jy in 0..upcl {
            let (mut temp1, mut temp3) = (0.0, 0.0);
            for &k1 in &indx2[..nenter] {
                temp1 += ws[k1 + n * ipntr] * wy[k1 + n * jpntr];
            }
            for &k1 in &indx2[ileave..n] {
                temp3 += ws[k1 + n * ipntr] * wy[k1 + n * jpntr];
            }
            if is <= jy + m {
                wn1[is + m2 * jy] = wn1[is + m2 * jy] + temp1 - temp3;
            } else {
                wn1[is + m2 * jy] = wn1[is + m2 * jy] - temp1 + temp3;
            }
            jpntr = (jpntr + 1) % m;
        }
        ipntr = (ipntr + 1) % m;
    }
    // Form the upper triangle of WN = [D+Y'ZZ'Y/theta   -L_a'+R_z' ]
    //                                 [-L_a +R_z        S'AA'S*theta].
    for iy in 0..col {
        let is = col + iy;
        let is1 = m + iy;
        for jy in 0..=iy {
            let js = col + jy;
            let js1 = m + jy;
            wn[jy + m2 * iy] = wn1[iy + m2 * jy] / theta;
            wn[js + m2 * is] = wn1[is1 + m2 * js1] * theta;
        }
        for jy in 0..iy {
            wn[jy + m2 * is] = -wn1[is1 + m2 * jy];
        }
        for jy in iy..col {
            wn[jy + m2 * is] = wn1[is1 + m2 * jy];
        }
        wn[iy + m2 * iy] += sy[iy + m * iy];
    }
    // Form the upper triangle of WN = [ LL'            L^-1(-L_a'+R_z')]
    //                                 [(-L_a+R_z)L'^-1   S'AA'S*theta  ].
    // First Cholesky factor (1,1) block.
    if blas::dpotrf_upper(col, wn, 0, m2) != 0 {
        *info = -1;
        return;
    }
    // Then form L^-1(-L_a'+R_z') in the (1,2) block.
    let col2 = 2 * col;
    {
        let (a, b) = wn.split_at_mut(m2 * col);
        // dtrtrs's info is not checked by the C code.
        let _ = blas::dtrtrs_upper(true, col, col, a, 0, m2, b, m2);
    }
    // Form S'AA'S*theta + (L^-1(-L_a'+R_z'))'L^-1(-L_a'+R_z') in the
    // upper triangle of (2,2).
    for is in col..col2 {
        for js in is..col2 {
            let dot = blas::ddot(&wn[m2 * is..m2 * is + col], &wn[m2 * js..m2 * js + col]);
            wn[is + m2 * js] += dot;
        }
    }
    // Cholesky factorisation of (2,2) block.
    if blas::dpotrf_upper(col, wn, col + m2 * col, m2) != 0 {
        *info = -2;
    }
}

/// `formt`: T = θS'S + LD^(−1)L' (upper half in wt), Cholesky-factorised.
/// Returns dpotrf's info (nonzero: not positive definite).
fn formt(m: usize, wt: &mut [f64], sy: &[f64], ss: &[f64], col: usize, theta: f64) -> i32 {
    for j in 0..col {
        wt[m * j] = theta * ss[m * j];
    }
    for i in 1..col {
        for j in i..col {
            let k1 = i.min(j);
            let mut ddum = 0.0;
            for k in 0..k1 {
                ddum += (sy[i + m * k] * sy[j + m * k]) / sy[k + m * k];
            }
            wt[i + m * j] = ddum + theta * ss[i + m * j];
        }
    }
    if blas::dpotrf_upper(col, wt, 0, m) != 0 {
        -3
    } else {
        0
    }
}

/// `freev`: the free and active variables at the GCP (index), and which
/// entered or left the free set since the last iteration (indx2).
#[allow(clippy::too_many_arguments)]
fn freev(
    n: usize,
    nfree: &mut usize,
    idx: &mut [usize],
    nenter: &mut usize,
    ileave: &mut usize,
    idx2: &mut [usize],
    iwhere: &[i32],
    wrk: &mut bool,
    updatd: bool,
    cnstnd: bool,
    iter: usize,
) {
    *nenter = 0;
    *ileave = n;
    if iter > 0 && cnstnd {
        // Count the entering and leaving variables.
        for i in 0..*nfree {
            let k = idx[i];
            if iwhere[k] > 0 {
                *ileave -= 1;
                idx2[*ileave] = k;
            }
        }
        for i in *nfree..n {
            let k = idx[i];
            if iwhere[k] <= 0 {
                idx2[*nenter] = k;
                *nenter += 1;
            }
        }
    }
    *wrk = *ileave < n || *nenter > 0 || updatd;
    // The index set of free and active variables at the GCP.
    *nfree = 0;
    let mut iact = n;
    for i in 0..n {
        if iwhere[i] <= 0 {
            idx[*nfree] = i;
            *nfree += 1;
        } else {
            iact -= 1;
            idx[iact] = i;
        }
    }
}

/// `hpsolb`: heap sort step; on return t[n] (0-based) is the least of
/// t[0..=n] and iorder follows.
fn hpsolb(n: usize, t: &mut [f64], iorder: &mut [usize], iheap: usize) {
    if iheap == 0 {
        // Rearrange t[0..n] into a heap.
        for k in 2..=n + 1 {
            let ddum = t[k - 1];
            let indxin = iorder[k - 1];
            let mut i = k;
            while i > 1 {
                let j = i / 2;
                if ddum < t[j - 1] {
                    t[i - 1] = t[j - 1];
                    iorder[i - 1] = iorder[j - 1];
                    i = j;
                } else {
                    break;
                }
            }
            t[i - 1] = ddum;
            iorder[i - 1] = indxin;
        }
    }
    if n > 0 {
        // Move the least element to t[n] and restore the heap on t[0..n].
        let mut i = 1;
        let out = t[0];
        let indxout = iorder[0];
        let ddum = t[n];
        let indxin = iorder[n];
        loop {
            let mut j = i + i;
            if j <= n {
                if t[j] < t[j - 1] {
                    j += 1;
                }
                if t[j - 1] < ddum {
                    t[i - 1] = t[j - 1];
                    iorder[i - 1] = iorder[j - 1];
                    i = j;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        t[i - 1] = ddum;
        iorder[i - 1] = indxin;
        t[n] = out;
        iorder[n] = indxout;
    }
}

/// `matupd`: store the new pair (s, y) = (d, r) in the circular memory and
/// update S'Y, S'S and θ = y'y / y's.
#[allow(clippy::too_many_arguments)]
fn matupd(
    n: usize,
    m: usize,
    ws: &mut [f64],
    wy: &mut [f64],
    sy: &mut [f64],
    ss: &mut [f64],
    d: &[f64],
    r: &[f64],
    itail: &mut usize,
    iupdat: usize,
    col: &mut usize,
    head: &mut usize,
    theta: &mut f64,
    rr: f64,
    dr: f64,
    stp: f64,
    dtd: f64,
) {
    if iupdat <= m {
        *col = iupdat;
        *itail = (*head + iupdat - 1) % m;
    } else {
        *itail = (*itail + 1) % m;
        *head = (*head + 1) % m;
    }
    ws[*itail * n..*itail * n + n].copy_from_slice(d);
    wy[*itail * n..*itail * n + n].copy_from_slice(r);
    *theta = rr / dr;
    // Form the middle matrix in B: move the old parts of SS and SY up.
    if iupdat > m {
        for j in 1..*col {
            for q in 0..j {
                ss[m * (j - 1) + q] = ss[1 + m * j + q];
            }
            let len = *col - j;
            for q in 0..len {
                sy[(j - 1) + m * (j - 1) + q] = sy[j + m * j + q];
            }
        }
    }
    // Add the new information: the last row of SY and last column of SS.
    let mut pointr = *head;
    for j in 0..*col - 1 {
        sy[*col - 1 + m * j] = blas::ddot(d, &wy[pointr * n..pointr * n + n]);
        ss[j + m * (*col - 1)] = blas::ddot(&ws[pointr * n..pointr * n + n], d);
        pointr = (pointr + 1) % m;
    }
    ss[(*col - 1) + m * (*col - 1)] = if stp == 1.0 { dtd } else { stp * stp * dtd };
    sy[(*col - 1) + m * (*col - 1)] = dr;
}

/// `projgr`: infinity norm of the projected gradient (NaN if g has one).
fn projgr(l: &[f64], u: &[f64], nbd: &[i32], x: &[f64], g: &[f64]) -> f64 {
    let mut sbgnrm = 0.0f64;
    for i in 0..x.len() {
        let mut gi = g[i];
        if gi.is_nan() {
            return gi;
        }
        if nbd[i] != 0 {
            if gi < 0.0 {
                if nbd[i] >= 2 {
                    gi = fmax(x[i] - u[i], gi);
                }
            } else if nbd[i] <= 2 {
                gi = fmin(x[i] - l[i], gi);
            }
        }
        sbgnrm = fmax(sbgnrm, gi.abs());
    }
    sbgnrm
}

/// `subsm`: subspace minimisation over the free variables from the
/// Cauchy point (direct primal method, with the 2011 projection fix).
/// `x` is the Cauchy point (becomes the subspace minimiser), `d` holds
/// the reduced gradient r on entry, `xx`/`gg` are the current x and g.
#[allow(clippy::too_many_arguments)]
fn subsm(
    n: usize,
    m: usize,
    nsub: usize,
    ind: &[usize],
    l: &[f64],
    u: &[f64],
    nbd: &[i32],
    x: &mut [f64],
    d: &mut [f64],
    xp: &mut [f64],
    ws: &[f64],
    wy: &[f64],
    theta: f64,
    xx: &[f64],
    gg: &[f64],
    col: usize,
    head: usize,
    wv: &mut [f64],
    wn: &[f64],
    info: &mut i32,
) {
    if nsub == 0 {
        return;
    }
    // wv = W'Zd.
    let mut pointr = head;
    for i in 0..col {
        let mut temp1 = 0.0;
        let mut temp2 = 0.0;
        for j in 0..nsub {
            let k = ind[j];
            temp1 += wy[k + n * pointr] * d[j];
            temp2 += ws[k + n * pointr] * d[j];
        }
        wv[i] = temp1;
        wv[col + i] = theta * temp2;
        pointr = (pointr + 1) % m;
    }
    // Compute wv := K^(-1) wv.
    let m2 = 2 * m;
    let col2 = 2 * col;
    *info = blas::dtrtrs_upper(true, col2, 1, wn, 0, m2, wv, m2);
    if *info != 0 {
        return;
    }
    for v in wv[..col].iter_mut() {
        *v = -*v;
    }
    *info = blas::dtrtrs_upper(false, col2, 1, wn, 0, m2, wv, m2);
    if *info != 0 {
        return;
    }
    // d = (1/θ)d + (1/θ²)Z'W wv.
    let mut pointr = head;
    for jy in 0..col {
        let js = col + jy;
        for i in 0..nsub {
            let k = ind[i];
            d[i] = d[i] + (wy[k + n * pointr] * wv[jy] / theta) + (ws[k + n * pointr] * wv[js]);
        }
        pointr = (pointr + 1) % m;
    }
    blas::dscal(1.0 / theta, &mut d[..nsub]);

    // Try the projection of the Newton point first (Morales & Nocedal).
    let mut iword = 0;
    xp.copy_from_slice(&x[..n]);
    for i in 0..nsub {
        let k = ind[i];
        let dk = d[i];
        let xk = x[k];
        if nbd[k] != 0 {
            if nbd[k] == 1 {
                x[k] = fmax(l[k], xk + dk);
                if x[k] == l[k] {
                    iword = 1;
                }
            } else if nbd[k] == 2 {
                let xk = fmax(l[k], xk + dk);
                x[k] = fmin(u[k], xk);
                if x[k] == l[k] || x[k] == u[k] {
                    iword = 1;
                }
            } else if nbd[k] == 3 {
                x[k] = fmin(u[k], xk + dk);
                if x[k] == u[k] {
                    iword = 1;
                }
            }
        } else {
            x[k] = xk + dk;
        }
    }
    if iword == 0 {
        return;
    }
    // Is the projected point a descent direction from the current x?
    let mut dd_p = 0.0;
    for i in 0..n {
        dd_p += (x[i] - xx[i]) * gg[i];
    }
    if dd_p > 0.0 {
        x[..n].copy_from_slice(xp);
    } else {
        return;
    }
    // Otherwise truncate the step at the first bound along d.
    let mut alpha = 1.0;
    let mut temp1 = 1.0;
    let mut ibd = 0;
    for i in 0..nsub {
        let k = ind[i];
        let dk = d[i];
        if nbd[k] != 0 {
            if dk < 0.0 && nbd[k] <= 2 {
                let temp2 = l[k] - x[k];
                if temp2 >= 0.0 {
                    temp1 = 0.0;
                } else if dk * alpha < temp2 {
                    temp1 = temp2 / dk;
                }
            } else if dk > 0.0 && nbd[k] >= 2 {
                let temp2 = u[k] - x[k];
                if temp2 <= 0.0 {
                    temp1 = 0.0;
                } else if dk * alpha > temp2 {
                    temp1 = temp2 / dk;
                }
            }
            if temp1 < alpha {
                alpha = temp1;
                ibd = i;
            }
        }
    }
    if alpha < 1.0 {
        let dk = d[ibd];
        let k = ind[ibd];
        if dk > 0.0 {
            x[k] = u[k];
            d[ibd] = 0.0;
        } else if dk < 0.0 {
            x[k] = l[k];
            d[ibd] = 0.0;
        }
    }
    for i in 0..nsub {
        let k = ind[i];
        x[k] += alpha * d[i];
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum LsTask {
    #[default]
    Start,
    Fg,
    Convergence,
    Warning,
    Error,
}

/// State of `dcsrch` between calls (its isave/dsave), kept across line
/// searches as the C code's work arrays are.
#[derive(Debug, Clone, Default)]
struct Dcsrch {
    task: LsTask,
    brackt: bool,
    stage: u8,
    ginit: f64,
    gtest: f64,
    gx: f64,
    gy: f64,
    finit: f64,
    fx: f64,
    fy: f64,
    stx: f64,
    sty: f64,
    stmin: f64,
    stmax: f64,
    width: f64,
    width1: f64,
}

impl Dcsrch {
    /// `dcsrch` (Moré & Thuente, MINPACK-2): one step of the search for a
    /// step satisfying the strong Wolfe conditions.
    #[allow(clippy::too_many_arguments)]
    fn dcsrch(
        &mut self,
        f: f64,
        g: f64,
        stp: &mut f64,
        ftol: f64,
        gtol: f64,
        xtol: f64,
        stpmin: f64,
        stpmax: f64,
    ) {
        const XTRAPL: f64 = 1.1;
        const XTRAPU: f64 = 4.0;
        if self.task == LsTask::Start {
            // Check the input arguments for errors.
            if *stp < stpmin
                || *stp > stpmax
                || g >= 0.0
                || ftol < 0.0
                || gtol < 0.0
                || xtol < 0.0
                || stpmin < 0.0
                || stpmax < stpmin
            {
                self.task = LsTask::Error;
                return;
            }
            self.brackt = false;
            self.stage = 1;
            self.finit = f;
            self.ginit = g;
            self.gtest = ftol * self.ginit;
            self.width = stpmax - stpmin;
            self.width1 = self.width / 0.5;
            self.stx = 0.0;
            self.fx = self.finit;
            self.gx = self.ginit;
            self.sty = 0.0;
            self.fy = self.finit;
            self.gy = self.ginit;
            self.stmin = 0.0;
            self.stmax = *stp + XTRAPU * *stp;
            self.task = LsTask::Fg;
            return;
        }
        // (An Error task falls through with the saved state, as in C.)
        let ftest = self.finit + *stp * self.gtest;
        if self.stage == 1 && f <= ftest && g >= 0.0 {
            self.stage = 2;
        }
        // Test for warnings.
        let mut task = self.task;
        if self.brackt && (*stp <= self.stmin || *stp >= self.stmax) {
            task = LsTask::Warning;
        }
        if self.brackt && self.stmax - self.stmin <= xtol * self.stmax {
            task = LsTask::Warning;
        }
        if *stp == stpmax && f <= ftest && g <= self.gtest {
            task = LsTask::Warning;
        }
        if *stp == stpmin && (f > ftest || g >= self.gtest) {
            task = LsTask::Warning;
        }
        // Test for convergence.
        if f <= ftest && g.abs() <= gtol * (-self.ginit) {
            task = LsTask::Convergence;
        }
        if task == LsTask::Warning || task == LsTask::Convergence {
            self.task = task;
            return;
        }
        // A modified function is used in the first stage when a step with
        // a lower function value has been obtained but the decrease is not
        // sufficient.
        if self.stage == 1 && f <= self.fx && f > ftest {
            let fm = f - *stp * self.gtest;
            let mut fxm = self.fx - self.stx * self.gtest;
            let mut fym = self.fy - self.sty * self.gtest;
            let gm = g - self.gtest;
            let mut gxm = self.gx - self.gtest;
            let mut gym = self.gy - self.gtest;
            dcstep(
                &mut self.stx,
                &mut fxm,
                &mut gxm,
                &mut self.sty,
                &mut fym,
                &mut gym,
                stp,
                fm,
                gm,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
            self.fx = fxm + self.stx * self.gtest;
            self.fy = fym + self.sty * self.gtest;
            self.gx = gxm + self.gtest;
            self.gy = gym + self.gtest;
        } else {
            dcstep(
                &mut self.stx,
                &mut self.fx,
                &mut self.gx,
                &mut self.sty,
                &mut self.fy,
                &mut self.gy,
                stp,
                f,
                g,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
        }
        // Decide if a bisection step is needed.
        if self.brackt {
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                *stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
        }
        // The minimum and maximum steps allowed.
        if self.brackt {
            self.stmin = fmin(self.stx, self.sty);
            self.stmax = fmax(self.stx, self.sty);
        } else {
            self.stmin = *stp + XTRAPL * (*stp - self.stx);
            self.stmax = *stp + XTRAPU * (*stp - self.stx);
        }
        *stp = fmax(*stp, stpmin);
        *stp = fmin(*stp, stpmax);
        // Fall back to the best step so far if further progress is not
        // possible.
        if self.brackt
            && (*stp <= self.stmin
                || *stp >= self.stmax
                || self.stmax - self.stmin <= xtol * self.stmax)
        {
            *stp = self.stx;
        }
        self.task = LsTask::Fg;
    }
}

/// `dcstep`: safeguarded step of the Moré–Thuente search (cubic and
/// quadratic interpolation), updating the interval of uncertainty.
#[allow(clippy::too_many_arguments)]
fn dcstep(
    stx: &mut f64,
    fx: &mut f64,
    dx: &mut f64,
    sty: &mut f64,
    fy: &mut f64,
    dy: &mut f64,
    stp: &mut f64,
    fp: f64,
    dp: f64,
    brackt: &mut bool,
    stpmin: f64,
    stpmax: f64,
) {
    let sgnd = dp * (*dx / dx.abs());
    let stpf;
    if fp > *fx {
        // Higher function value: the minimum is bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = fmax(theta.abs(), fmax(dx.abs(), dp.abs()));
        let mut gamma = s * ((theta / s) * (theta / s) - (*dx / s) * (dp / s)).sqrt();
        if *stp < *stx {
            gamma = -gamma;
        }
        let p = (gamma - *dx) + theta;
        let q = ((gamma - *dx) + gamma) + dp;
        let r = p / q;
        let stpc = *stx + r * (*stp - *stx);
        let stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (stpc - *stx).abs() < (stpq - *stx).abs() {
            stpf = stpc;
        } else {
            stpf = stpc + (stpq - stpc) / 2.0;
        }
        *brackt = true;
    } else if sgnd < 0.0 {
        // Derivatives of opposite sign: the minimum is bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = fmax(theta.abs(), fmax(dx.abs(), dp.abs()));
        let mut gamma = s * ((theta / s) * (theta / s) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + *dx;
        let r = p / q;
        let stpc = *stp + r * (*stx - *stp);
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (stpc - *stp).abs() > (stpq - *stp).abs() {
            stpf = stpc;
        } else {
            stpf = stpq;
        }
        *brackt = true;
    } else if dp.abs() < dx.abs() {
        // Same sign, derivative magnitude decreases.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = fmax(theta.abs(), fmax(dx.abs(), dp.abs()));
        let mut gamma = s * fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (*dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            *stp + r * (*stx - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if *brackt {
            // A step close to stp, within the bracket.
            let mut sf = if (stpc - *stp).abs() < (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            if *stp > *stx {
                sf = fmin(*stp + 0.66 * (*sty - *stp), sf);
            } else {
                sf = fmax(*stp + 0.66 * (*sty - *stp), sf);
            }
            stpf = sf;
        } else {
            // A step far from stp, within [stpmin, stpmax].
            let mut sf = if (stpc - *stp).abs() > (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            sf = fmin(stpmax, sf);
            sf = fmax(stpmin, sf);
            stpf = sf;
        }
    } else {
        // Same sign, derivative magnitude does not decrease.
        if *brackt {
            let theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            let s = fmax(theta.abs(), fmax(dy.abs(), dp.abs()));
            let mut gamma = s * ((theta / s) * (theta / s) - (*dy / s) * (dp / s)).sqrt();
            if *stp > *sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            let r = p / q;
            stpf = *stp + r * (*sty - *stp);
        } else if *stp > *stx {
            stpf = stpmax;
        } else {
            stpf = stpmin;
        }
    }
    // Update the interval which contains a minimiser.
    if fp > *fx {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if sgnd < 0.0 {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

/// The BLAS and LAPACK routines that `__lbfgsb.c` calls, evaluated as
/// OpenBLAS 0.3.28 (SciPy's wheels) does on x86-64 with its SkylakeX
/// kernels: which products are fused (FMA), in which order partial sums
/// are combined, and dnrm2's x87 80-bit accumulation. Matrices are
/// column-major slices with a leading dimension, as in Fortran.
pub(crate) mod blas {
    /// ddot (kernel/x86_64/ddot.c, SkylakeX microkernel): blocks of 16
    /// (32 with AVX-512) in 4-lane FMA accumulators, combined as
    /// ((a0 + a1) + a2) + a3 lane-wise, then (l0 + l2) + (l1 + l3); the
    /// remainder added one fused product at a time.
    pub fn ddot(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len().min(y.len());
        let n1 = n & !15;
        let mut dot = 0.0;
        if n1 > 0 {
            let mut acc = [[0.0f64; 4]; 4];
            let mut i = 0;
            let n32 = n1 & !31;
            if n32 > 0 {
                let mut acc5 = [[0.0f64; 8]; 4];
                while i < n32 {
                    for (b, a) in acc5.iter_mut().enumerate() {
                        for (lane, v) in a.iter_mut().enumerate() {
                            let k = i + 8 * b + lane;
                            *v = x[k].mul_add(y[k], *v);
                        }
                    }
                    i += 32;
                }
                for b in 0..4 {
                    for lane in 0..4 {
                        acc[b][lane] = acc5[b][lane] + acc5[b][lane + 4];
                    }
                }
            }
            while i < n1 {
                for (b, a) in acc.iter_mut().enumerate() {
                    for (lane, v) in a.iter_mut().enumerate() {
                        let k = i + 4 * b + lane;
                        *v = x[k].mul_add(y[k], *v);
                    }
                }
                i += 16;
            }
            let s: [f64; 4] = std::array::from_fn(|lane| {
                ((acc[0][lane] + acc[1][lane]) + acc[2][lane]) + acc[3][lane]
            });
            dot = (s[0] + s[2]) + (s[1] + s[3]);
        }
        for i in n1..n {
            dot = y[i].mul_add(x[i], dot);
        }
        dot
    }

    /// daxpy: y += a·x, one fused multiply-add per element.
    pub fn daxpy(a: f64, x: &[f64], y: &mut [f64]) {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = a.mul_add(xi, *yi);
        }
    }

    /// dscal: x *= a.
    pub fn dscal(a: f64, x: &mut [f64]) {
        for v in x {
            *v *= a;
        }
    }

    /// dnrm2 (kernel/x86_64/nrm2.S): the squares summed on the x87 stack
    /// in 80-bit extended precision (64-bit significands; four partial sums
    /// for blocks of 8, combined as d + ((c + a) + b)), the square root
    /// taken in extended precision and rounded to double.
    pub fn dnrm2(x: &[f64]) -> f64 {
        if x.iter().any(|v| !v.is_finite()) {
            // Inf/NaN: exact in any precision.
            return x.iter().map(|v| v * v).sum::<f64>().sqrt();
        }
        let n = x.len();
        let mut acc = [Ext::ZERO; 4];
        let blocks = n / 8;
        for b in 0..blocks {
            for h in 0..2 {
                for q in 0..4 {
                    let v = x[8 * b + 4 * h + q];
                    acc[q] = acc[q].add(Ext::square(v));
                }
            }
        }
        for &v in &x[8 * blocks..] {
            acc[0] = acc[0].add(Ext::square(v));
        }
        let total = acc[3].add(acc[2].add(acc[0]).add(acc[1]));
        total.sqrt().to_f64()
    }

    /// A non-negative finite x87 extended value: mant · 2^exp, with mant
    /// normalised to 64 bits (top bit set) unless zero.
    #[derive(Clone, Copy, Debug)]
    struct Ext {
        mant: u64,
        exp: i32,
    }

    impl Ext {
        const ZERO: Ext = Ext { mant: 0, exp: 0 };

        /// Round a u128 integer v·2^exp to 64 significant bits (ties to even).
        fn round_u128(v: u128, exp: i32) -> Ext {
            if v == 0 {
                return Ext::ZERO;
            }
            let bits = 128 - v.leading_zeros() as i32;
            if bits <= 64 {
                let sh = 64 - bits;
                return Ext {
                    mant: (v << sh) as u64,
                    exp: exp - sh,
                };
            }
            let sh = (bits - 64) as u32;
            let mut q = v >> sh;
            let rem = v & ((1u128 << sh) - 1);
            let half = 1u128 << (sh - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q += 1;
            }
            let mut e = exp + sh as i32;
            if q >> 64 != 0 {
                q >>= 1;
                e += 1;
            }
            Ext {
                mant: q as u64,
                exp: e,
            }
        }

        /// x·x rounded to extended precision (fld + fmul).
        fn square(x: f64) -> Ext {
            let (m, e) = decompose(x.abs());
            Ext::round_u128((m as u128) * (m as u128), 2 * e)
        }

        /// a + b rounded to extended precision (faddp).
        fn add(self, b: Ext) -> Ext {
            if self.mant == 0 {
                return b;
            }
            if b.mant == 0 {
                return self;
            }
            let (hi, lo) = if self.exp >= b.exp {
                (self, b)
            } else {
                (b, self)
            };
            let d = (hi.exp - lo.exp) as u32;
            // 62 guard bits, plus a sticky bit for what shifts out.
            let a = (hi.mant as u128) << 62;
            let bl = (lo.mant as u128) << 62;
            let bs = if d >= 127 {
                1
            } else {
                let s = bl >> d;
                if s << d != bl {
                    s | 1
                } else {
                    s
                }
            };
            Ext::round_u128(a + bs, hi.exp - 62)
        }

        /// √a rounded to extended precision (fsqrt).
        fn sqrt(self) -> Ext {
            if self.mant == 0 {
                return Ext::ZERO;
            }
            // mant · 2^exp with an even exponent and a 127–128-bit radicand.
            let (rad, e) = if self.exp % 2 == 0 {
                ((self.mant as u128) << 64, self.exp - 64)
            } else {
                ((self.mant as u128) << 63, self.exp - 63)
            };
            let mut r = isqrt(rad);
            // Round to nearest: up when rad − r² > r (no ties possible).
            if rad - r * r > r {
                r += 1;
            }
            let mut ex = e / 2;
            if r >> 64 != 0 {
                r >>= 1;
                ex += 1;
            }
            Ext {
                mant: r as u64,
                exp: ex,
            }
        }

        /// Store to double (fstpl): round to 53 bits, ties to even.
        fn to_f64(self) -> f64 {
            if self.mant == 0 {
                return 0.0;
            }
            let mut q = self.mant >> 11;
            let rem = self.mant & 0x7ff;
            if rem > 0x400 || (rem == 0x400 && q & 1 == 1) {
                q += 1;
            }
            let mut e = self.exp + 11;
            if q >> 53 != 0 {
                q >>= 1;
                e += 1;
            }
            // Values here come from squares of doubles: scale in two exact
            // steps to stay within range.
            let half = e / 2;
            (q as f64) * 2f64.powi(half) * 2f64.powi(e - half)
        }
    }

    /// A finite non-negative double as integer significand and exponent.
    fn decompose(x: f64) -> (u64, i32) {
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp - 1075)
        }
    }

    /// ⌊√v⌋ for a u128.
    fn isqrt(v: u128) -> u128 {
        if v == 0 {
            return 0;
        }
        let mut r = (v as f64).sqrt() as u128;
        // Newton steps from the double estimate, then exact correction.
        for _ in 0..3 {
            if r == 0 {
                r = 1;
            }
            r = (r + v / r) / 2;
        }
        while r.checked_mul(r).is_none_or(|s| s > v) {
            r -= 1;
        }
        while (r + 1).checked_mul(r + 1).is_some_and(|s| s <= v) {
            r += 1;
        }
        r
    }

    /// dgemv 'T' (kernel/x86_64/dgemv_t_4.c with the Haswell 4×4
    /// microkernel), for y[j] += alpha · A[:, j]'x, A m×n at a[off..]
    /// with leading dimension lda (m < 2048); `unit_incy` says whether y
    /// is contiguous in the caller (the kernels round differently).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn dgemv_t(
        m: usize,
        n: usize,
        alpha: f64,
        a: &[f64],
        off: usize,
        lda: usize,
        x: &[f64],
        y: &mut [f64],
        unit_incy: bool,
    ) {
        if m < 1 || n < 1 {
            return;
        }
        let m3 = m & 3;
        let nb = m - m3;
        if nb > 0 {
            let n1 = n >> 2;
            let n2 = n & 3;
            let mut ytemp = vec![0.0; 4 * n1];
            for (j, yt) in ytemp.iter_mut().enumerate() {
                // 4 lanes of fused sums over rows ≡ lane (mod 4).
                let c = off + j * lda;
                let mut lane = [0.0f64; 4];
                for r in 0..nb {
                    lane[r & 3] = a[c + r].mul_add(x[r], lane[r & 3]);
                }
                *yt = (lane[0] + lane[2]) + (lane[1] + lane[3]);
            }
            for (j, &yt) in ytemp.iter().enumerate() {
                let k = j;
                y[k] = if !unit_incy {
                    yt.mul_add(alpha, y[k])
                } else {
                    y[k] + yt * alpha
                };
            }
            let mut jc = 4 * n1;
            if n2 & 2 != 0 {
                // SSE2 4×2 kernel: products then sums, rows even/odd.
                for _ in 0..2 {
                    let c = off + jc * lda;
                    let mut lane = [0.0f64; 2];
                    for r in 0..nb {
                        lane[r & 1] += a[c + r] * x[r];
                    }
                    let yb = lane[0] + lane[1];
                    let k = jc;
                    y[k] = yb.mul_add(alpha, y[k]);
                    jc += 1;
                }
            }
            if n2 & 1 != 0 {
                // SSE2 4×1 kernel: rows (4i, 4i+1) and (4i+2, 4i+3) apart.
                let c = off + jc * lda;
                let mut x10 = [0.0f64; 2];
                let mut x9 = [0.0f64; 2];
                let mut r = 0;
                while r < nb {
                    x10[0] += a[c + r] * x[r];
                    x10[1] += a[c + r + 1] * x[r + 1];
                    x9[0] += a[c + r + 2] * x[r + 2];
                    x9[1] += a[c + r + 3] * x[r + 3];
                    r += 4;
                }
                let yb = (x10[0] + x9[0]) + (x10[1] + x9[1]);
                let k = jc;
                y[k] = yb.mul_add(alpha, y[k]);
            }
        }
        if m3 == 0 {
            return;
        }
        // The last m mod 4 rows, in C with contracted multiply-adds.
        let r0 = nb;
        let mut xt = [0.0f64; 3];
        for q in 0..m3 {
            xt[q] = x[r0 + q] * alpha;
        }
        for j in 0..n {
            let c = off + j * lda + r0;
            let k = j;
            let s = match m3 {
                3 => a[c + 2].mul_add(xt[2], a[c].mul_add(xt[0], a[c + 1] * xt[1])),
                2 => a[c].mul_add(xt[0], a[c + 1] * xt[1]),
                _ => {
                    y[k] = a[c].mul_add(xt[0], y[k]);
                    continue;
                }
            };
            y[k] += s;
        }
    }

    /// dpotrf 'U' (OpenBLAS lapack/potf2/potf2_U.c for n ≤ 32): the upper
    /// Cholesky factor of the n×n matrix at a[off..] (leading dimension
    /// lda), in place. Returns info (j + 1 when the j-th pivot is ≤ 0).
    pub fn dpotrf_upper(n: usize, a: &mut [f64], off: usize, lda: usize) -> i32 {
        let mut xcol = vec![0.0; n];
        let mut yrow = vec![0.0; n];
        for j in 0..n {
            let cj = off + j * lda;
            let ajj = a[cj + j] - ddot(&a[cj..cj + j], &a[cj..cj + j]);
            if ajj <= 0.0 {
                a[cj + j] = ajj;
                return j as i32 + 1;
            }
            let ajj = ajj.sqrt();
            a[cj + j] = ajj;
            let i = n - j - 1;
            if i > 0 {
                xcol[..j].copy_from_slice(&a[cj..cj + j]);
                for q in 0..i {
                    yrow[q] = a[cj + j + (q + 1) * lda];
                }
                dgemv_t(
                    j,
                    i,
                    -1.0,
                    a,
                    cj + lda,
                    lda,
                    &xcol[..j],
                    &mut yrow[..i],
                    false,
                );
                // SCAL_K by the reciprocal, not a division.
                let rcp = 1.0 / ajj;
                for q in 0..i {
                    a[cj + j + (q + 1) * lda] = yrow[q] * rcp;
                }
            }
        }
        0
    }

    /// dtrtrs 'U', 'T' or 'N', 'N': solve U'X = B (trans) or UX = B for
    /// nrhs columns of B at b[..] (leading dimension ldb), U the upper
    /// triangle of the n×n matrix at a[aoff..] (leading dimension lda).
    /// Returns info (i + 1 if U[i, i] is the first zero pivot).
    #[allow(clippy::too_many_arguments)]
    pub fn dtrtrs_upper(
        trans: bool,
        n: usize,
        nrhs: usize,
        a: &[f64],
        aoff: usize,
        lda: usize,
        b: &mut [f64],
        ldb: usize,
    ) -> i32 {
        if n == 0 {
            return 0;
        }
        // Singularity check (AMIN/IAMIN over the diagonal).
        let mut amin = f64::INFINITY;
        let mut imin = 0;
        for i in 0..n {
            let v = a[aoff + i + i * lda].abs();
            if i == 0 || v < amin {
                amin = v;
                imin = i;
            }
        }
        if amin == 0.0 {
            return imin as i32 + 1;
        }
        if nrhs == 1 {
            trsv_upper(trans, n, a, aoff, lda, &mut b[..n]);
        } else {
            for j in 0..nrhs {
                trsm_column_upper_t(trans, n, a, aoff, lda, &mut b[j * ldb..j * ldb + n]);
            }
        }
        0
    }

    /// dtrsv (driver/level2/trsv_L.c for 'T', trsv_U.c for 'N'; one block
    /// for n ≤ 64): dot products or axpys of fused multiply-adds, division
    /// by the pivot.
    fn trsv_upper(trans: bool, n: usize, a: &[f64], aoff: usize, lda: usize, b: &mut [f64]) {
        if trans {
            for i in 0..n {
                let c = aoff + i * lda;
                if i > 0 {
                    let dot = ddot(&a[c..c + i], &b[..i]);
                    b[i] -= dot;
                }
                b[i] /= a[c + i];
            }
        } else {
            for ii in 0..n {
                let i = n - 1 - ii;
                let c = aoff + i * lda;
                b[i] /= a[c + i];
                if i > 0 {
                    let bi = -b[i];
                    let (lo, _) = b.split_at_mut(i);
                    daxpy(bi, &a[c..c + i], lo);
                }
            }
        }
    }

    /// dtrsm for one right-hand side column (driver/level3/trsm_L.c with
    /// the generic trsm_kernel_LT and the 16×2 GEMM kernel): rows in blocks
    /// of 16, 8, 4, 2, 1; each block first takes the fused dot products
    /// with the rows already solved, then is solved with the reciprocal of
    /// each pivot.
    fn trsm_column_upper_t(
        trans: bool,
        n: usize,
        a: &[f64],
        aoff: usize,
        lda: usize,
        b: &mut [f64],
    ) {
        assert!(trans, "only U'X = B is used with several right-hand sides");
        let rest = n & 15;
        let blocks = std::iter::repeat_n(16, n / 16)
            .chain([8, 4, 2, 1].into_iter().filter(|s| rest & s != 0));
        let mut kk = 0;
        for bs in blocks {
            // GEMM update with the kk rows already solved.
            if kk > 0 {
                for r in kk..kk + bs {
                    let c = aoff + r * lda;
                    let mut acc = 0.0;
                    for k in 0..kk {
                        acc = a[c + k].mul_add(b[k], acc);
                    }
                    b[r] -= acc;
                }
            }
            // solve(): multiply by the inverted pivot, then eliminate.
            for i in kk..kk + bs {
                let inv = 1.0 / a[aoff + i + i * lda];
                let bb = b[i] * inv;
                b[i] = bb;
                for k in i + 1..kk + bs {
                    b[k] = (-bb).mul_add(a[aoff + i + k * lda], b[k]);
                }
            }
            kk += bs;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosen(x: &[f64]) -> f64 {
        let mut s = 0.0;
        for i in 0..x.len() - 1 {
            let a = x[i + 1] - x[i] * x[i];
            let b = 1.0 - x[i];
            s += 100.0 * a * a + b * b;
        }
        s
    }

    fn rosen_grad(x: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        for i in 0..x.len() - 1 {
            let a = x[i + 1] - x[i] * x[i];
            g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i]);
            g[i + 1] += 200.0 * a;
        }
        rosen(x)
    }

    const X0: [f64; 5] = [1.3, 0.7, 0.8, 1.9, 1.2];
    const INF: f64 = f64::INFINITY;
    const LOWER: [f64; 5] = [-2.0, -INF, 0.6, -INF, -1.0];
    const UPPER: [f64; 5] = [0.9, 0.5, INF, INF, 1.5];

    fn hex(s: &str) -> f64 {
        // Python's float.hex() of a normal number: 0x1.<13 hex digits>p<exp>.
        let (mant, exp) = s.trim_start_matches("0x").split_once('p').unwrap();
        let (int, frac) = mant.split_once('.').unwrap();
        let bits = u64::from_str_radix(frac, 16).unwrap();
        assert_eq!(int, "1");
        let e: i32 = exp.parse().unwrap();
        f64::from_bits((((e + 1023) as u64) << 52) | bits)
    }

    /// What SciPy 1.15.3 returns for the same problem (x and fun printed
    /// with float.hex(); see the values' source in each test).
    fn assert_scipy(r: &MinimizeResult, nit: usize, nfev: usize, x: [&str; 5], f: &str, msg: &str) {
        assert_eq!((r.nit, r.nfev, r.message), (nit, nfev, msg));
        for (got, want) in r.x.iter().zip(x) {
            assert_eq!(got.to_bits(), hex(want).to_bits(), "{got:e} vs {want}");
        }
        assert_eq!(r.f.to_bits(), hex(f).to_bits());
        assert_eq!(r.status, Status::Converged);
    }

    // minimize(rosen, x0, jac=True, method="L-BFGS-B")
    #[test]
    fn rosenbrock_with_gradient_follows_scipy() {
        let n = X0.len();
        let r = minimize(
            rosen_grad,
            &X0,
            &[-INF; 5][..n],
            &[INF; 5][..n],
            &Options::default(),
        );
        assert_scipy(
            &r,
            24,
            26,
            [
                "0x1.000001c89eb58p+0",
                "0x1.000003932b4abp+0",
                "0x1.000007b4071d5p+0",
                "0x1.00000f3a13315p+0",
                "0x1.00001ef421801p+0",
            ],
            "0x1.6e03b984a5112p-40",
            MSG_CONV_F,
        );
    }

    // ... bounds=[(-2, 0.9), (None, 0.5), (0.6, None), (None, None), (-1, 1.5)]:
    // x0 is clipped, and three bounds are active at the solution.
    #[test]
    fn rosenbrock_with_active_bounds_follows_scipy() {
        let r = minimize(rosen_grad, &X0, &LOWER, &UPPER, &Options::default());
        assert_scipy(
            &r,
            15,
            19,
            [
                "0x1.6ac84f87c0968p-1",
                "0x1.0000000000000p-1",
                "0x1.3333333333333p-1",
                "0x1.7720f2e61c310p-2",
                "0x1.12d8c5299e05ep-3",
            ],
            "0x1.a4d436dc201edp+3",
            MSG_CONV_GRAD,
        );
    }

    // minimize(rosen, x0, method="L-BFGS-B"[, bounds=...]): forward
    // differences, nfev counting each of their evaluations.
    #[test]
    fn rosenbrock_by_finite_differences_follows_scipy() {
        let r = minimize_numdiff(rosen, &X0, &[-INF; 5], &[INF; 5], &Options::default());
        assert_scipy(
            &r,
            24,
            156,
            [
                "0x1.fffff18b5a534p-1",
                "0x1.ffffe35981ca5p-1",
                "0x1.ffffc82b35586p-1",
                "0x1.ffff9039486f1p-1",
                "0x1.ffff21480bdafp-1",
            ],
            "0x1.0899898643006p-36",
            MSG_CONV_F,
        );
        let r = minimize_numdiff(rosen, &X0, &LOWER, &UPPER, &Options::default());
        assert_scipy(
            &r,
            15,
            114,
            [
                "0x1.6ac84f5c0c556p-1",
                "0x1.0000000000000p-1",
                "0x1.3333333333333p-1",
                "0x1.7720f22f3de92p-2",
                "0x1.12d8c37bf15a9p-3",
            ],
            "0x1.a4d436dc20209p+3",
            MSG_CONV_GRAD,
        );
    }

    #[test]
    fn limits_and_bad_input() {
        let opts = Options {
            maxiter: 3,
            ..Options::default()
        };
        let r = minimize(rosen_grad, &X0, &[-INF; 5], &[INF; 5], &opts);
        assert_eq!(
            (r.nit, r.status, r.message),
            (3, Status::LimitReached, MSG_STOP_ITER)
        );
        let r = minimize(rosen_grad, &X0, &[1.0; 5], &[0.0; 5], &Options::default());
        assert_eq!(r.status, Status::Failed);
    }

    // OpenBLAS's results (scipy.linalg.blas) on inputs where a plain loop
    // would round differently: dnrm2 sums squares in 80-bit precision,
    // ddot fuses its multiply-adds and combines lanes for n >= 16.
    #[test]
    fn blas_kernels_round_as_openblas() {
        let x: Vec<f64> = (1..=20).map(|i| 1.0 / i as f64 + 0.6 * i as f64).collect();
        let y: Vec<f64> = (1..=20).map(|i| (i as f64).sqrt() - 0.5).collect();
        let plain = |a: &[f64], b: &[f64]| a.iter().zip(b).fold(0.0, |s, (u, v)| s + u * v);
        for (got, want, naive) in [
            (
                blas::ddot(&x[..5], &y[..5]),
                "0x1.d06a21f25bf8cp+3",
                plain(&x[..5], &y[..5]),
            ),
            (blas::ddot(&x, &y), "0x1.8f463d7394811p+8", plain(&x, &y)),
            (
                blas::dnrm2(&x[..5]),
                "0x1.4e2c59240b778p+2",
                plain(&x[..5], &x[..5]).sqrt(),
            ),
            (
                blas::dnrm2(&x),
                "0x1.04502ce9a35b4p+5",
                plain(&x, &x).sqrt(),
            ),
        ] {
            assert_eq!(got.to_bits(), hex(want).to_bits());
            assert_ne!(got, naive);
        }
    }
}
