//! `reasonscope`: argument parsing only; the work lives in the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use reasonscope::cli;

#[derive(Parser)]
#[command(
    name = "reasonscope",
    version,
    about = "Inspect how language models reason: sample many paths, score them with every selection method"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Run files to open in the app.
    runs: Vec<PathBuf>,
}

/// Sampling settings shared by `sample` and `suite`.
#[derive(clap::Args)]
struct SamplingOpts {
    /// GGUF model (default: the bundled SmolLM2-135M-Instruct after `make model`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Number of paths.
    #[arg(short = 'n', long = "paths", default_value_t = 16)]
    n_paths: u32,
    #[arg(long, default_value_t = 256)]
    max_tokens: u32,
    #[arg(long, default_value_t = 0.7)]
    temperature: f32,
    /// 0 turns top-k off.
    #[arg(long, default_value_t = 40)]
    top_k: u32,
    /// 1 turns top-p off.
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// 0 turns min-p off.
    #[arg(long, default_value_t = 0.05)]
    min_p: f32,
    /// Path i uses seed + i.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Alternatives stored per token.
    #[arg(long, default_value_t = 5)]
    top_logprobs: u32,
    /// Decoding-time method: plain, cntp, ffs (first finish search) or deepconf-online.
    #[arg(long, default_value = "plain", value_parser = ["plain", "cntp", "ffs", "deepconf-online"])]
    method: String,
    /// deepconf-online: warm-up paths that set the threshold.
    #[arg(long, default_value_t = 16)]
    warmup: u32,
    /// deepconf-online: window (tokens) of the running confidence.
    #[arg(long, default_value_t = 2048)]
    window: u32,
    /// Compute threads (default: chosen from the machine).
    #[arg(long)]
    threads: Option<u32>,
    #[command(flatten)]
    server: ServerOpts,
    /// No progress output.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Sampling through an OpenAI-compatible server instead of a local model.
#[derive(clap::Args)]
struct ServerOpts {
    /// Sample through this server's API (base URL, e.g. http://127.0.0.1:8080/v1)
    /// instead of a local GGUF model.
    #[arg(long, conflicts_with = "model")]
    server: Option<String>,
    /// The served model (default: the only one the server lists).
    #[arg(long, requires = "server")]
    server_model: Option<String>,
    /// Name of the environment variable holding the API key (never stored).
    #[arg(long, requires = "server")]
    api_key_env: Option<String>,
    /// Requests in flight at once (default: the server's slots, else 8).
    #[arg(long, requires = "server")]
    concurrency: Option<u32>,
    /// Seconds to wait to connect and for the first byte of each answer.
    #[arg(long, default_value_t = 60.0, requires = "server")]
    timeout: f64,
    /// One request per path, even where one request with `n` choices would
    /// serve (llama-server, vLLM: plain single-turn runs).
    #[arg(long, requires = "server")]
    no_n: bool,
}

impl ServerOpts {
    /// The backend: this server, or the local `model`.
    fn backend(&self, model: PathBuf) -> reasonscope::engine::Backend {
        match &self.server {
            Some(url) => reasonscope::engine::Backend::Server(reasonscope::engine::ServerSpec {
                url: url.clone(),
                model: self.server_model.clone(),
                api_key_env: self.api_key_env.clone(),
                concurrency: self.concurrency,
                timeout: std::time::Duration::from_secs_f64(self.timeout.clamp(0.1, 86_400.0)),
                no_n: self.no_n,
            }),
            None => reasonscope::engine::Backend::Local(model),
        }
    }
}

impl SamplingOpts {
    fn backend(&self) -> reasonscope::engine::Backend {
        self.server
            .backend(self.model.clone().unwrap_or_else(cli::default_model_path))
    }

    fn request(&self) -> reasonscope::engine::SampleRequest {
        let sampler = reasonscope::engine::SamplerParams {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
        };
        reasonscope::engine::SampleRequest {
            method: cli::decoding_method(&self.method, self.warmup, self.window),
            // The conversation is filled in by the command.
            ..reasonscope::engine::SampleRequest::single_turn(
                None,
                "",
                self.n_paths,
                sampler,
                self.seed,
                self.max_tokens,
                self.top_logprobs,
            )
        }
    }
}

// One command is parsed per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Cmd {
    /// Sample N reasoning paths from a GGUF model (or a server) and write a run file.
    Sample {
        /// The (first) user message.
        #[arg(long)]
        prompt: Option<String>,
        /// A user message; repeat for a multi-turn conversation (after --prompt if given).
        #[arg(long = "turn")]
        turns: Vec<String>,
        /// A JSON file with the conversation: [{"role", "content"}, ...] or {"conversation": [...], "gold": [...]}.
        #[arg(long)]
        conversation: Option<PathBuf>,
        /// An optional system message.
        #[arg(long)]
        system: Option<String>,
        /// The expected final answer; once per turn ("-" for a turn without one).
        #[arg(long)]
        gold: Vec<String>,
        /// Measure kl_ref from turn 2 on against: no-history, reminder:"TEXT" or same (a control).
        #[arg(long, value_parser = parse_drift_reference)]
        drift_reference: Option<reasonscope::run::DriftReference>,
        /// Read answers with this regex (first group) instead of the automatic rules.
        #[arg(long)]
        answer_regex: Option<String>,
        /// A title stored in the run (the app shows it in its tabs and headers).
        #[arg(long)]
        title: Option<String>,
        /// Output run file (.json or .json.gz).
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        sampling: SamplingOpts,
        /// KV cache layout: split (one buffer per path; batching never changes
        /// results) or unified (prompt cells shared; see README).
        #[arg(long, default_value = "split", value_parser = ["unified", "split"])]
        kv: String,
        /// Autosave file of the live run (default: OUTPUT's stem + .autosave.json.gz).
        #[arg(long)]
        autosave: Option<PathBuf>,
        /// Seconds between autosaves.
        #[arg(long, default_value_t = 5.0)]
        autosave_secs: f64,
        /// Then ask the model again: p_true, p_true_brainstorm, usc (comma-separated, or all).
        #[arg(long)]
        judge: Option<String>,
    },
    /// Sample every question of a JSONL suite into a folder (one run per
    /// question; resumable: questions already there are skipped).
    Suite {
        /// JSONL: {"id", "prompt" or "messages", "gold"} per line.
        #[arg(long)]
        questions: PathBuf,
        /// Output folder (ID.json.gz per question).
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        sampling: SamplingOpts,
    },
    /// Continue a path from one of its tokens with M new paths (appended to the run).
    Fork {
        run: PathBuf,
        /// The path to continue.
        #[arg(long)]
        path: usize,
        /// The turn to fork in (1-based).
        #[arg(long, default_value_t = 1)]
        turn: usize,
        /// Keep its first K tokens.
        #[arg(long)]
        token: usize,
        /// Number of new paths.
        #[arg(short = 'n', long = "paths", default_value_t = 8)]
        n_paths: u32,
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        server: ServerOpts,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Seconds between autosaves (OUTPUT's stem + .autosave.json.gz).
        #[arg(long, default_value_t = 5.0)]
        autosave_secs: f64,
        #[arg(long)]
        threads: Option<u32>,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Ask the model again about a run's answers (P(True), Universal
    /// Self-Consistency) and record what it read in the run.
    Judge {
        /// A run file, or a folder of runs (a suite), judged in place.
        run: PathBuf,
        /// p_true, p_true_brainstorm, usc (comma-separated), or all.
        #[arg(long, default_value = "p_true,usc")]
        methods: String,
        /// Judge only this turn (1-based); default every turn.
        #[arg(long)]
        turn: Option<usize>,
        /// The judge (default: the default model).
        #[arg(long)]
        model: Option<PathBuf>,
        #[command(flatten)]
        server: ServerOpts,
        /// Write the judged run here instead of back into RUN.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[arg(long)]
        threads: Option<u32>,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Print a summary of a run file (or of what an importable file holds).
    Info { run: PathBuf },
    /// Convert other tools' outputs (OpenAI-style responses, llama-server,
    /// SGLang, lm-evaluation-harness logs, reasonscope jsonl) into run files.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output: a run file, or a folder when a source holds several prompts
        /// (default: next to the source, NAME.run.json.gz or NAME-runs/).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// The user message every response answers, when the file lacks it.
        #[arg(long, conflicts_with = "prompt_file")]
        prompt: Option<String>,
        /// A file holding that user message.
        #[arg(long)]
        prompt_file: Option<PathBuf>,
        /// Tokenize text-only traces with this GGUF model's tokenizer.
        #[arg(long)]
        tokenizer: Option<PathBuf>,
        /// The vocabulary size V, where the file does not give it (entropy's upper bound).
        #[arg(long)]
        vocab_size: Option<u32>,
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Replace run files that exist.
        #[arg(long)]
        force: bool,
    },
    /// Export a chart without a window (the same chart the app shows).
    Export {
        /// Run file(s) or folders; calibration and suite use every run given.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// The chart (not needed for --format jsonl).
        #[arg(long,
              value_parser = ["methods", "agreement", "entropy", "branches", "reflection", "curves", "calibration", "drift", "suite"])]
        chart: Option<String>,
        /// png, svg or csv for a chart; jsonl writes the runs themselves in the jsonl interchange format.
        #[arg(long, value_parser = ["png", "svg", "csv", "jsonl"])]
        format: String,
        /// The file to write (a .jsonl file for --format jsonl).
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// Only this path (entropy chart).
        #[arg(long)]
        path: Option<usize>,
        /// The turn (1-based, as in the app).
        #[arg(long, default_value_t = 1)]
        turn: usize,
        /// PNG scale (1 = the SVG's size).
        #[arg(long, default_value_t = 2.0)]
        scale: f32,
        /// Replace an existing output file.
        #[arg(long)]
        force: bool,
        /// DeepConf's sliding window (tokens) for the entropy chart's confidence panel.
        #[arg(long, default_value_t = 2048)]
        window: usize,
    },
    /// Score every path and selection method of one or more runs (or folders of runs).
    Analyze {
        /// Run files or folders of run files.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// DeepConf window (tokens).
        #[arg(long, default_value_t = 2048)]
        window: usize,
        /// Borda exponent p.
        #[arg(long, default_value_t = 0.5)]
        borda_p: f64,
        /// Extra reflection markers (repeatable).
        #[arg(long = "marker")]
        markers: Vec<String>,
    },
}

fn main() {
    let args = Cli::parse();
    let result = match args.command {
        Some(Cmd::Sample {
            prompt,
            turns,
            conversation,
            system,
            gold,
            drift_reference,
            answer_regex,
            title,
            output,
            sampling,
            kv,
            autosave,
            autosave_secs,
            judge,
        }) => judge
            .as_deref()
            .map(cli::parse_methods)
            .transpose()
            .and_then(|judge| {
                cli::conversation_from_args(system, prompt, turns, conversation.as_deref(), gold)
                    .map(|c| (judge, c))
            })
            .and_then(|(judge, (conversation, gold))| {
                let backend = sampling.backend();
                let run = cli::sample(&cli::SampleArgs {
                    backend: backend.clone(),
                    request: reasonscope::engine::SampleRequest {
                        conversation,
                        gold,
                        drift_reference,
                        title,
                        answer: answer_regex
                            .map(|pattern| reasonscope::run::AnswerSpec::Regex { pattern }),
                        ..sampling.request()
                    },
                    output: output.clone(),
                    threads: sampling.threads,
                    kv_unified: kv == "unified",
                    quiet: sampling.quiet,
                    autosave,
                    autosave_secs,
                })?;
                if let Some(methods) = judge {
                    let inputs = cli::judge_inputs(&run, None)?;
                    let run = cli::judge_run(
                        run,
                        inputs,
                        &methods,
                        &backend,
                        sampling.threads,
                        sampling.quiet,
                    )?;
                    reasonscope::run::write_run(&run, &output)?;
                    if !sampling.quiet {
                        cli::print_judge_summary(&run, &output);
                    }
                }
                Ok(())
            }),
        Some(Cmd::Suite {
            questions,
            output,
            sampling,
        }) => cli::suite(&cli::SuiteArgs {
            backend: sampling.backend(),
            questions,
            output,
            template: sampling.request(),
            threads: sampling.threads,
            quiet: sampling.quiet,
        })
        .and_then(|o| {
            if o.interrupted {
                std::process::exit(130);
            }
            if o.failed.is_empty() {
                Ok(())
            } else {
                anyhow::bail!(
                    "{} question(s) failed: {}",
                    o.failed.len(),
                    o.failed.join(", ")
                )
            }
        }),
        Some(Cmd::Fork {
            run,
            path,
            turn,
            token,
            n_paths,
            model,
            server,
            output,
            autosave_secs,
            threads,
            quiet,
        }) => cli::fork(
            &run,
            path,
            turn.saturating_sub(1),
            token,
            n_paths,
            server.backend(model.unwrap_or_else(cli::default_model_path)),
            &output,
            autosave_secs,
            threads,
            quiet,
        )
        .map(|_| ()),
        Some(Cmd::Judge {
            run,
            methods,
            turn,
            model,
            server,
            output,
            threads,
            quiet,
        }) => cli::parse_methods(&methods).and_then(|methods| {
            cli::judge(&cli::JudgeArgs {
                run,
                methods,
                backend: server.backend(model.unwrap_or_else(cli::default_model_path)),
                output,
                turn: turn.map(|t| t.saturating_sub(1)),
                threads,
                quiet,
            })
        }),
        Some(Cmd::Info { run }) => cli::info(&run),
        Some(Cmd::Import {
            files,
            output,
            prompt,
            prompt_file,
            tokenizer,
            vocab_size,
            quiet,
            force,
        }) => prompt_arg(prompt, prompt_file).and_then(|prompt| {
            cli::import_files(&cli::ImportArgs {
                files,
                output,
                prompt,
                tokenizer,
                vocab: vocab_size,
                quiet,
                force,
            })
        }),
        Some(Cmd::Export {
            runs,
            chart,
            format,
            output,
            path,
            turn,
            scale,
            force,
            window,
        }) => cli::export_chart(&cli::ExportArgs {
            runs,
            chart: chart.unwrap_or_default(),
            format,
            output,
            path,
            turn,
            scale,
            force,
            window,
        }),
        Some(Cmd::Analyze {
            runs,
            format,
            window,
            borda_p,
            markers,
        }) => {
            let mut params = reasonscope::analysis::AnalysisParams::default();
            params.methods.window = window.max(1);
            params.methods.borda_p = borda_p;
            params.markers.extend(markers);
            cli::analyze(&runs, format == "json", &params)
        }
        None => reasonscope::ui::run_app(args.runs),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `--prompt` or `--prompt-file` as a one-message conversation.
fn prompt_arg(
    prompt: Option<String>,
    file: Option<PathBuf>,
) -> anyhow::Result<Option<Vec<reasonscope::run::Message>>> {
    let text = match (prompt, file) {
        (Some(p), _) => p,
        (None, Some(f)) => reasonscope::run::read_bounded(&f)
            .and_then(|b| String::from_utf8(b).map_err(|e| format!("not UTF-8 text ({e})")))
            .map_err(|e| anyhow::anyhow!("--prompt-file {}: {e}", f.display()))?,
        (None, None) => return Ok(None),
    };
    Ok(Some(reasonscope::run::Message::users(&[
        text.trim_end_matches('\n')
    ])))
}

fn parse_drift_reference(s: &str) -> Result<reasonscope::run::DriftReference, String> {
    reasonscope::run::DriftReference::parse(s)
}
