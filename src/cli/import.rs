//! `reasonscope import`: other tools' outputs to run files (one per
//! prompt; a folder of runs when a source holds several prompts).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::run::import::{self, Imported, Options, Tokenizer};
use crate::run::{write_run, Message, Run};

pub struct ImportArgs {
    pub files: Vec<PathBuf>,
    pub output: Option<PathBuf>,
    /// The conversation every record answers (when the file lacks it).
    pub prompt: Option<Vec<Message>>,
    pub tokenizer: Option<PathBuf>,
    pub vocab: Option<u32>,
    pub quiet: bool,
    /// Replace run files that exist.
    pub force: bool,
}

/// `name.json` → `name`; `name.jsonl.gz` → `name`.
fn stem(p: &Path) -> String {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    n.rsplit_once('.').map_or(n, |(s, _)| s).to_owned()
}

/// Where one file's runs go: `out` (a run file, or a folder when the file
/// holds several prompts); by default next to the source.
struct Sink {
    force: bool,
    single: PathBuf,
    folder: PathBuf,
    first: Option<Imported>,
    written: Vec<PathBuf>,
}

impl Sink {
    fn write(&mut self, r: Imported) -> anyhow::Result<()> {
        if self.written.is_empty() && self.first.is_none() {
            // Held until a second one shows whether this is a folder.
            self.first = Some(r);
            return Ok(());
        }
        std::fs::create_dir_all(&self.folder)
            .with_context(|| format!("cannot create {}", self.folder.display()))?;
        for r in self.first.take().into_iter().chain([r]) {
            let p = self.folder.join(format!("{}.json.gz", r.name));
            self.check(&p)?;
            write_run(&r.run, &p)?;
            self.written.push(p);
        }
        Ok(())
    }

    fn check(&self, p: &Path) -> anyhow::Result<()> {
        if !self.force && p.exists() {
            bail!("{} exists (--force replaces it)", p.display());
        }
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Vec<PathBuf>> {
        if let Some(r) = self.first.take() {
            self.check(&self.single)?;
            write_run(&r.run, &self.single)?;
            self.written.push(self.single.clone());
        }
        Ok(self.written)
    }
}

pub fn import_files(a: &ImportArgs) -> anyhow::Result<()> {
    let model = match &a.tokenizer {
        Some(p) => Some(
            crate::engine::LoadedModel::load(p, None)
                .with_context(|| format!("--tokenizer {}", p.display()))?,
        ),
        None => None,
    };
    let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut failed = 0usize;
    for file in &a.files {
        let opts = Options {
            file_name: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            prompt: a.prompt.clone(),
            vocab: a.vocab,
            tokenizer: model.as_ref().map(|m| m as &dyn Tokenizer),
            created: created.clone(),
        };
        let s = stem(file);
        let (single, folder) = match &a.output {
            // A run file's name, for a file that turns out to hold several
            // prompts, names their folder without its extension.
            Some(o) if a.files.len() == 1 && !o.is_dir() => {
                let folder = match crate::run::run_file_stem(o) {
                    s if s.is_empty() => o.clone(),
                    s => o.with_file_name(s),
                };
                (o.clone(), folder)
            }
            Some(o) => (o.join(format!("{s}.json.gz")), o.join(&s)),
            None => {
                let dir = file.parent().unwrap_or(Path::new("."));
                (
                    dir.join(format!("{s}.run.json.gz")),
                    dir.join(format!("{s}-runs")),
                )
            }
        };
        if let Some(o) = &a.output {
            if a.files.len() > 1 {
                std::fs::create_dir_all(o)?;
            }
        }
        let mut sink = Sink {
            force: a.force,
            single,
            folder,
            first: None,
            written: Vec::new(),
        };
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        let total = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut write_err: Option<anyhow::Error> = None;
        let mut on_run = |r: Imported| {
            if write_err.is_none() {
                if let Err(e) = sink.write(r) {
                    write_err = Some(e);
                }
            }
        };
        let quiet = a.quiet;
        let mut progress = |read: u64| {
            if !quiet && total > 64 << 20 {
                eprint!(
                    "\r{}: {:.0}%",
                    opts.file_name,
                    100.0 * read as f64 / total as f64
                );
            }
        };
        let summary = import::import(f, &opts, &mut on_run, &mut progress);
        if !quiet && total > 64 << 20 {
            eprintln!();
        }
        if let Some(e) = write_err {
            return Err(e);
        }
        let summary = match summary {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
        };
        let written = sink.finish()?;
        for p in &summary.problems {
            eprintln!("error: {p}");
        }
        failed += usize::from(!summary.problems.is_empty());
        if !a.quiet {
            let to = match written.as_slice() {
                [one] => one.display().to_string(),
                many => format!(
                    "{} ({} run files)",
                    many.first()
                        .and_then(|p| p.parent())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    many.len()
                ),
            };
            println!(
                "{}: {} ({} record{}) → {to}",
                file.display(),
                summary.format.unwrap_or("?"),
                summary.records,
                if summary.records == 1 { "" } else { "s" },
            );
            if let Some(first) = written.first() {
                if let Ok(run) = crate::run::read_run(first) {
                    println!("  {}", describe(&run));
                }
            }
        }
    }
    if failed > 0 {
        bail!("{failed} file(s) had records that could not be imported (see above)");
    }
    Ok(())
}

/// What the imported statistics are, in one line: the analysis's own
/// note on the source, then what the file did not hold and what the
/// conversion decided.
pub fn describe(run: &Run) -> String {
    let mut s = crate::analysis::methods::stats_note(run)
        .unwrap_or_else(|| "full distribution: every statistic exact".to_owned());
    if let Some(i) = &run.import {
        if !i.unknown.is_empty() {
            s.push_str(&format!("; unknown: {}", i.unknown.join(", ")));
        }
        for n in &i.notes {
            s.push_str(&format!("; {n}"));
        }
    }
    s
}
