//! Building runs in code: used by tests, benchmarks and importers so that
//! every hand-made run goes through one place and stays valid.

use compact_str::CompactString;

use super::model::*;

/// One token's values for `TurnBuilder::token`.
#[derive(Debug, Clone, Copy)]
pub struct TokenValues<'a> {
    pub id: i32,
    pub text: &'a str,
    pub logprob: f32,
    pub entropy: f32,
    pub self_certainty: f32,
    pub confidence: f32,
}

/// Accumulates a turn's columns; alternatives are filled with the sampled
/// token followed by placeholders of lower probability.
#[derive(Debug, Clone)]
pub struct TurnBuilder {
    tokens: Tokens,
    text: String,
    width: usize,
}

impl TurnBuilder {
    pub fn new(width: usize) -> Self {
        TurnBuilder {
            tokens: Tokens::with_width(width),
            text: String::new(),
            width,
        }
    }

    pub fn token(mut self, v: TokenValues) -> Self {
        let t = &mut self.tokens;
        t.id.push(v.id);
        t.text.push(CompactString::from(v.text));
        t.logprob.push(v.logprob);
        t.entropy.push(v.entropy);
        t.self_certainty.push(v.self_certainty);
        t.confidence.push(v.confidence);
        let ids: Vec<i32> = (0..self.width as i32)
            .map(|k| if k == 0 { v.id } else { v.id + k })
            .collect();
        let texts: Vec<CompactString> = (0..self.width)
            .map(|k| {
                if k == 0 {
                    v.text.into()
                } else {
                    CompactString::from("·")
                }
            })
            .collect();
        let lps: Vec<f32> = (0..self.width).map(|k| v.logprob - k as f32).collect();
        t.top_id.push_row(&ids);
        t.top_text.push_row(&texts);
        t.top_logprob.push_row(&lps);
        self.text.push_str(v.text);
        self
    }

    pub fn finish(self, finish: Finish, start_ms: f64, end_ms: f64) -> Turn {
        Turn {
            text: self.text,
            finish,
            tokens: self.tokens,
            timing: Timing { start_ms, end_ms },
        }
    }
}

/// A minimal valid run around `paths` (one user message, given gold).
pub fn run_with_paths(prompt: &str, gold: Option<&str>, width: u32, paths: Vec<Vec<Turn>>) -> Run {
    Run {
        format: FORMAT.into(),
        version: VERSION,
        created: "2026-01-01T00:00:00Z".into(),
        title: None,
        model: ModelInfo {
            name: "test".into(),
            file: "test.gguf".into(),
            sha256: None,
            n_vocab: 100,
            n_params: 1,
            n_ctx: 4096,
            backend: "import".into(),
        },
        sampling: Sampling {
            n_paths: paths.len() as u32,
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            seed: 0,
            max_tokens: 4096,
            top_logprobs: width,
            method: "plain".into(),
        },
        conversation: vec![Message {
            role: Role::User,
            content: prompt.into(),
        }],
        gold: gold.map(|g| vec![Some(g.to_owned())]),
        answer: Some(AnswerSpec::Auto),
        prompt: None,
        engine: None,
        drift_reference: None,
        decoding: None,
        stats: None,
        remote: None,
        // Made in code, not sampled: recorded as an import of nothing.
        judgements: Vec::new(),
        import: Some(ImportInfo {
            from: "synthetic".into(),
            file: "synthetic".into(),
            record: None,
            tokens: None,
            unknown: Vec::new(),
            notes: Vec::new(),
        }),
        paths: paths
            .into_iter()
            .enumerate()
            .map(|(i, turns)| Path {
                index: i as u32,
                seed: i as u64,
                fork: None,
                turns,
            })
            .collect(),
    }
}

/// A synthetic run for benchmarks (random statistics over a 12-word
/// vocabulary, shared first 30 tokens, answers 8 or 9, gold 8). Its title
/// and model name say "synthetic": it is never passed off as a real run.
/// A finished one-token turn whose text is `text` (for hand-computed tests).
pub fn one_token_turn(text: &str) -> Turn {
    TurnBuilder::new(1)
        .token(TokenValues {
            id: 1,
            text,
            logprob: -0.1,
            entropy: 0.5,
            self_certainty: 1.0,
            confidence: 1.0,
        })
        .finish(Finish::Stop, 0.0, 1.0)
}

pub fn synthetic_run(n_paths: usize, n_tokens: usize, seed: u64) -> Run {
    const WORDS: [&str; 12] = [
        " the", " apples", " so", " we", " add", " 3", " and", " 5", ",", " wait", "\n", " total",
    ];
    let mut rng = fastrand::Rng::with_seed(seed);
    let paths = (0..n_paths)
        .map(|p| {
            let mut b = TurnBuilder::new(5);
            for t in 0..n_tokens.saturating_sub(1) {
                let w = if t < 30 {
                    t % WORDS.len()
                } else {
                    rng.usize(0..WORDS.len())
                };
                b = b.token(TokenValues {
                    id: w as i32,
                    text: WORDS[w],
                    logprob: -rng.f32() * 2.0,
                    entropy: rng.f32() * 4.0,
                    self_certainty: 5.0 + rng.f32() * 5.0,
                    confidence: 1.0 + rng.f32() * 10.0,
                });
            }
            let ans = ["The answer is 8.", "The answer is 9."][p % 2];
            b = b.token(TokenValues {
                id: 99,
                text: ans,
                logprob: -0.1,
                entropy: 0.2,
                self_certainty: 9.0,
                confidence: 12.0,
            });
            vec![b.finish(Finish::Stop, 0.0, 1.0)]
        })
        .collect();
    let mut run = run_with_paths("synthetic benchmark run", Some("8"), 5, paths);
    run.title = Some(format!("synthetic {n_paths} × {n_tokens}"));
    run.model.name = "synthetic".into();
    run
}
