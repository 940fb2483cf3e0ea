//! Branch points: the token trie of a turn's paths (methods.md, "Uncertain
//! points and branch points"). Chains are collapsed: only nodes where paths
//! part ways (forks) are materialised.

use serde::Serialize;

/// One child of a fork: the token the paths took and who took it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkChild {
    pub token_id: i32,
    pub text: String,
    pub paths: Vec<usize>,
    /// Answer label → number of paths below this child ("" = no answer).
    pub answers: Vec<(String, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fork {
    /// Token index at which the paths part.
    pub position: usize,
    /// Mean entropy at that position over the paths through the fork.
    pub entropy: f64,
    /// Count-weighted Jensen–Shannon divergence of the children's answer
    /// distributions (nats); 0 when every branch ends in the same answers.
    pub decisiveness: f64,
    pub children: Vec<ForkChild>,
    /// Paths through the fork (including those that end right here).
    pub n_paths: usize,
}

/// Input for one path: token ids, texts, entropies and its answer label.
pub struct TriePath<'a> {
    pub ids: &'a [i32],
    pub texts: &'a [compact_str::CompactString],
    pub entropy: &'a [f32],
    pub answer: Option<String>,
}

fn entropy_of(counts: &[(String, usize)]) -> f64 {
    let n: usize = counts.iter().map(|c| c.1).sum();
    if n == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|c| c.1 > 0)
        .map(|c| {
            let p = c.1 as f64 / n as f64;
            -p * p.ln()
        })
        .sum()
}

fn answer_counts(paths: &[TriePath], members: &[usize]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for &i in members {
        let a = paths[i].answer.clone().unwrap_or_default();
        match out.iter_mut().find(|e| e.0 == a) {
            Some(e) => e.1 += 1,
            None => out.push((a, 1)),
        }
    }
    out
}

/// Weighted JSD = H(Σ π_c P_c) − Σ π_c H(P_c), π_c = n_c / n.
pub fn weighted_jsd(children: &[Vec<(String, usize)>]) -> f64 {
    let n: usize = children.iter().flatten().map(|c| c.1).sum();
    if n == 0 {
        return 0.0;
    }
    let mut mixture: Vec<(String, usize)> = Vec::new();
    for (a, k) in children.iter().flatten() {
        match mixture.iter_mut().find(|e| &e.0 == a) {
            Some(e) => e.1 += k,
            None => mixture.push((a.clone(), *k)),
        }
    }
    let inner: f64 = children
        .iter()
        .map(|c| {
            let nc: usize = c.iter().map(|e| e.1).sum();
            nc as f64 / n as f64 * entropy_of(c)
        })
        .sum();
    (entropy_of(&mixture) - inner).max(0.0)
}

/// The members grouped by their token at `depth` (paths that end before
/// `depth` are left out), groups in order of first appearance.
fn partition(paths: &[TriePath], members: &[usize], depth: usize) -> Vec<(i32, Vec<usize>)> {
    let mut groups: Vec<(i32, Vec<usize>)> = Vec::new();
    for &i in members {
        if let Some(&t) = paths[i].ids.get(depth) {
            match groups.iter_mut().find(|g| g.0 == t) {
                Some(g) => g.1.push(i),
                None => groups.push((t, vec![i])),
            }
        }
    }
    groups
}

/// All forks of the trie, most decisive first (ties: earlier position,
/// then more paths).
pub fn forks(paths: &[TriePath]) -> Vec<Fork> {
    let mut out = Vec::new();
    let all: Vec<usize> = (0..paths.len()).collect();
    // Explicit stack of (members, depth) groups sharing a prefix.
    let mut stack = vec![(all, 0usize)];
    while let Some((members, mut depth)) = stack.pop() {
        loop {
            // Partition by the token at `depth`; paths that end here stay out.
            let groups = partition(paths, &members, depth);
            if groups.is_empty() {
                break;
            }
            if groups.len() == 1 && groups[0].1.len() == members.len() {
                depth += 1; // a chain: collapse
                continue;
            }
            if groups.len() >= 2 {
                let through: Vec<usize> = groups.iter().flat_map(|g| g.1.iter().copied()).collect();
                let entropy = through
                    .iter()
                    // A text-only run has no entropy: NaN (unavailable).
                    .map(|&i| {
                        paths[i]
                            .entropy
                            .get(depth)
                            .map_or(f64::NAN, |&h| f64::from(h))
                    })
                    .sum::<f64>()
                    / through.len() as f64;
                let children: Vec<ForkChild> = groups
                    .iter()
                    .map(|(t, m)| ForkChild {
                        token_id: *t,
                        text: paths[m[0]].texts[depth].to_string(),
                        paths: m.clone(),
                        answers: answer_counts(paths, m),
                    })
                    .collect();
                let dists: Vec<Vec<(String, usize)>> =
                    children.iter().map(|c| c.answers.clone()).collect();
                out.push(Fork {
                    position: depth,
                    entropy,
                    decisiveness: weighted_jsd(&dists),
                    children,
                    n_paths: members.len(),
                });
            }
            for (_, m) in groups.into_iter().rev() {
                if m.len() >= 2 {
                    stack.push((m, depth + 1));
                }
            }
            break;
        }
    }
    out.sort_by(|a, b| {
        b.decisiveness
            .total_cmp(&a.decisiveness)
            .then(a.position.cmp(&b.position))
            .then(b.n_paths.cmp(&a.n_paths))
    });
    out
}

/// A node of the collapsed trie: a run of tokens shared by `paths`, from
/// `start` up to `end` (a fork position, or the end of its longest path).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeNode {
    pub start: usize,
    pub end: usize,
    pub paths: Vec<usize>,
    pub children: Vec<usize>,
    /// Text of the node's first token (the branch it took at its parent).
    pub label: String,
    pub answers: Vec<(String, usize)>,
}

/// The collapsed trie as a tree (node 0 is the root), for drawing.
pub fn tree(paths: &[TriePath]) -> Vec<TreeNode> {
    let mut nodes = Vec::new();
    if paths.is_empty() {
        return nodes;
    }
    let all: Vec<usize> = (0..paths.len()).collect();
    build(paths, all, 0, &mut nodes);
    nodes
}

fn build(
    paths: &[TriePath],
    members: Vec<usize>,
    start: usize,
    nodes: &mut Vec<TreeNode>,
) -> usize {
    let id = nodes.len();
    let label = members
        .first()
        .and_then(|&i| paths[i].texts.get(start))
        .map(|t| t.to_string())
        .unwrap_or_default();
    nodes.push(TreeNode {
        start,
        end: start,
        paths: members.clone(),
        children: Vec::new(),
        label,
        answers: answer_counts(paths, &members),
    });
    let mut depth = start;
    loop {
        let groups = partition(paths, &members, depth);
        if groups.len() == 1 && groups[0].1.len() == members.len() {
            depth += 1;
            continue;
        }
        nodes[id].end = depth;
        if groups.len() >= 2 || (groups.len() == 1 && groups[0].1.len() < members.len()) {
            for (_, m) in groups {
                let child = build(paths, m, depth, nodes);
                nodes[id].children.push(child);
            }
        }
        return id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compact_str::CompactString;

    fn texts(ids: &[i32]) -> Vec<CompactString> {
        ids.iter()
            .map(|i| CompactString::from(format!("t{i}")))
            .collect()
    }

    #[test]
    fn finds_forks_and_decisiveness() {
        // Paths: [1,2,3]→"8", [1,2,4]→"8", [1,5,6]→"9", [1,5,6]→"9"
        let ids = [vec![1, 2, 3], vec![1, 2, 4], vec![1, 5, 6], vec![1, 5, 6]];
        let tx: Vec<_> = ids.iter().map(|v| texts(v)).collect();
        let ent = [0.1f32, 0.7, 0.3];
        let answers = ["8", "8", "9", "9"];
        let paths: Vec<TriePath> = (0..4)
            .map(|i| TriePath {
                ids: &ids[i],
                texts: &tx[i],
                entropy: &ent,
                answer: Some(answers[i].into()),
            })
            .collect();
        let f = forks(&paths);
        assert_eq!(f.len(), 2);
        // Fork at 1 separates "8" from "9": JSD = ln 2.
        assert_eq!(f[0].position, 1);
        assert!((f[0].decisiveness - 2f64.ln()).abs() < 1e-12);
        assert!((f[0].entropy - 0.7).abs() < 1e-6);
        assert_eq!(f[0].children[0].text, "t2");
        assert_eq!(f[0].children[0].paths, vec![0, 1]);
        assert_eq!(f[0].children[1].answers, vec![("9".to_owned(), 2)]);
        // Fork at 2 (3 vs 4) both end in "8": not decisive.
        assert_eq!(f[1].position, 2);
        assert_eq!(f[1].decisiveness, 0.0);
    }

    #[test]
    fn tree_collapses_chains() {
        let ids = [vec![1, 2, 3], vec![1, 2, 4], vec![1, 5]];
        let tx: Vec<_> = ids.iter().map(|v| texts(v)).collect();
        let ent = [0.1f32; 3];
        let paths: Vec<TriePath> = (0..3)
            .map(|i| TriePath {
                ids: &ids[i],
                texts: &tx[i],
                entropy: &ent,
                answer: None,
            })
            .collect();
        let t = tree(&paths);
        // root [0,1) → {2: [1,2) → {3: leaf, 4: leaf}, 5: leaf}
        assert_eq!((t[0].start, t[0].end), (0, 1));
        assert_eq!(t[0].children.len(), 2);
        let a = &t[t[0].children[0]];
        assert_eq!((a.start, a.end, a.paths.clone()), (1, 2, vec![0, 1]));
        assert_eq!(a.children.len(), 2);
        let leaf = &t[a.children[0]];
        assert_eq!((leaf.start, leaf.end, leaf.label.as_str()), (2, 3, "t3"));
        let b = &t[t[0].children[1]];
        assert_eq!((b.start, b.end), (1, 2));
    }

    #[test]
    fn identical_paths_have_no_fork() {
        let ids = vec![1, 2, 3];
        let tx = texts(&ids);
        let ent = [0.0f32; 3];
        let paths: Vec<TriePath> = (0..3)
            .map(|_| TriePath {
                ids: &ids,
                texts: &tx,
                entropy: &ent,
                answer: None,
            })
            .collect();
        assert!(forks(&paths).is_empty());
    }

    #[test]
    fn weighted_jsd_by_hand() {
        // Children: {a:3} and {a:1, b:1}; mixture {a:4, b:1}.
        let c = vec![
            vec![("a".to_owned(), 3)],
            vec![("a".to_owned(), 1), ("b".to_owned(), 1)],
        ];
        let h_mix = -(0.8f64 * 0.8f64.ln() + 0.2 * 0.2f64.ln());
        let expect = h_mix - 0.4 * 2f64.ln();
        assert!((weighted_jsd(&c) - expect).abs() < 1e-12);
    }
}
