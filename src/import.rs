//! `kvsim import memtier` and `kvsim import redis-benchmark`: a benchmark tool's command
//! line turned into the equivalent scenario, printed as RON on stdout, with a warning on
//! stderr for every flag that has no model behind it.
//!
//! Each tool's options are a clap command mirroring the tool's own option table
//! (`import/memtier.rs`, `import/redis_benchmark.rs`), so parsing is clap's and the
//! values and defaults are the tool's (each module cites the source it follows). This
//! module holds what both share: the scenario draft, its rendering and the checks.
//!
//! Invariants: what is printed always loads (it is validated with
//! `models::scenario::load_str` before a byte is printed, so `kvsim check` accepts it);
//! every flag given is either carried into a scenario field, named in a warning, or
//! refused; bad input (an unknown flag, a malformed value, a combination the tool itself
//! refuses, a flag whose whole workload kvsim cannot model) exits 2 with the flag named
//! and prints nothing on stdout. Nothing here panics on any argv.

mod memtier;
mod redis_benchmark;

use crate::output::emit;
use clap::parser::ValueSource;
use clap::ArgMatches;
use models::client_cpu::ClientCpuCost;
use models::scenario::{self, ScenarioError};
use std::fmt::Write as _;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub tool: Tool,
}

#[derive(clap::Subcommand, Debug)]
pub enum Tool {
    /// memtier_benchmark's options, after `--`: `kvsim import memtier -- --clients=10 --ratio=1:1`.
    Memtier {
        /// memtier_benchmark's command line, without the program name.
        #[arg(last = true, value_name = "MEMTIER_ARGS")]
        argv: Vec<String>,
    },
    /// redis-benchmark's (Redis 7.0) options, after `--`: `kvsim import redis-benchmark -- -c 50 -t get`.
    #[command(name = "redis-benchmark")]
    RedisBenchmark {
        /// redis-benchmark's command line, without the program name.
        #[arg(last = true, value_name = "REDIS_BENCHMARK_ARGS")]
        argv: Vec<String>,
    },
}

/// Exit status for input that cannot be imported.
const BAD_INPUT: u8 = 2;

pub fn import(args: &ImportArgs) -> ExitCode {
    let drafted = match &args.tool {
        Tool::Memtier { argv } => memtier::draft(argv),
        Tool::RedisBenchmark { argv } => redis_benchmark::draft(argv),
    };
    let draft = match drafted {
        Ok(d) => d,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    match finish(draft) {
        Ok((text, warnings)) => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            emit(&text)
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// One workload field of the scenario: its RON value and the flag it came from (or the
/// tool's default it takes), said in the comment beside it.
pub(crate) struct Field {
    pub name: &'static str,
    pub ron: String,
    pub from: String,
}

impl Field {
    pub fn new(name: &'static str, ron: impl Into<String>, from: impl Into<String>) -> Field {
        Field {
            name,
            ron: ron.into(),
            from: from.into(),
        }
    }

    /// A string field, escaped as RON needs.
    pub fn string(name: &'static str, value: &str, from: impl Into<String>) -> Field {
        Field::new(name, ron_string(value), from)
    }
}

/// A variant: its name and the workload fields its patch sets.
pub(crate) struct Variant {
    pub name: String,
    pub workload: Vec<Field>,
}

/// Everything an importer decides; [`finish`] renders and checks it.
pub(crate) struct Draft {
    /// The tool's program name, as the argv comment shows it.
    pub tool: &'static str,
    pub argv: Vec<String>,
    pub name: &'static str,
    pub duration_s: u64,
    /// Why the run lasts `duration_s` (a comment).
    pub duration_note: String,
    /// `None`: standalone; `Some(shards)`: Redis Cluster.
    pub cluster_shards: Option<u32>,
    pub workload: Vec<Field>,
    /// The client threads' CPU cost, with its reason, when not kvsim's default.
    pub cpu_cost: Option<(ClientCpuCost, &'static str)>,
    pub variants: Vec<Variant>,
    /// Comment lines under the argv, saying what the tool does that the fields do not.
    pub notes: Vec<String>,
    /// Warnings with the argv position of the flag they name, printed in argv order.
    pub warnings: Vec<(usize, String)>,
    /// The flag that sets a workload field, for naming it when the model refuses a value.
    pub flag_of: fn(&str) -> Option<&'static str>,
    /// The flag behind `duration_s`, when one sets it.
    pub duration_flag: Option<&'static str>,
}

/// The instance the imported cluster runs on: the argv says nothing of the server, so
/// this is a choice, named in the scenario for the user to edit (the README's minimal
/// scenario uses the same type).
const DEFAULT_INSTANCE: &str = "cache.r7g.large";

/// The shards of an imported Redis Cluster: the argv does not say how many primaries the
/// cluster has; three is the fewest `redis-cli --cluster create` accepts.
pub(crate) const CLUSTER_SHARDS_DEFAULT: u32 = 3;

/// Renders the draft, checks that it loads, and returns the text and the warnings in
/// argv order. A default prefill the default instance cannot take (its memory, or the
/// most keys kvsim prefills) is dropped with a warning rather than refused: the argv
/// did not ask for it.
fn finish(mut draft: Draft) -> Result<(String, Vec<String>), String> {
    let origin = format!("the scenario imported from {}", draft.tool);
    let mut empty_prefill = false;
    // At most two passes: the second, if any, without the default prefill.
    let text = loop {
        let text = render(&draft, empty_prefill);
        match scenario::load_str(&text, &origin) {
            Ok(_) => break text,
            Err(ScenarioError::Invalid { path, message, .. }) => {
                if path == "prefill.keys" && !empty_prefill {
                    empty_prefill = true;
                    draft.warnings.push((
                        usize::MAX,
                        format!(
                            "prefill: kvsim's default prefill (the whole key range at the mean value size) is refused on the scenario's cluster of {DEFAULT_INSTANCE}: {message}; the scenario starts with an empty cache (prefill: (keys: 0)): choose a larger instance or more shards and remove that line to prefill"
                        ),
                    ));
                    continue;
                }
                let field = path.rsplit('.').next().unwrap_or_default();
                let flag = if path == "duration_s" {
                    draft.duration_flag
                } else if path.contains("workload.") {
                    (draft.flag_of)(field)
                } else {
                    None
                };
                return Err(match flag {
                    Some(flag) => format!("{}: {flag}: {message}", draft.tool),
                    None => format!(
                        "{}: the argv gives a scenario kvsim refuses: {path}: {message}",
                        draft.tool
                    ),
                });
            }
            Err(e) => {
                return Err(format!(
                    "{}: the argv gives a scenario kvsim refuses: {e}",
                    draft.tool
                ))
            }
        }
    };
    draft.warnings.sort_by_key(|(index, _)| *index);
    Ok((text, draft.warnings.into_iter().map(|(_, w)| w).collect()))
}

fn render(d: &Draft, empty_prefill: bool) -> String {
    let mut t = String::new();
    let command = std::iter::once(d.tool.to_string())
        .chain(d.argv.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ");
    let _ = writeln!(t, "// Imported by `kvsim import` from:");
    let _ = writeln!(t, "//     {command}");
    let _ = writeln!(
        t,
        "// Each workload field is the value {}'s source gives this argv (its default\n\
         // where no flag sets it; the comment names the flag). The cluster, the network and\n\
         // the run's length are not in the argv: they are kvsim's choices, to edit.",
        d.tool
    );
    for n in &d.notes {
        let _ = writeln!(t, "// {n}");
    }
    let _ = writeln!(t, "(");
    let _ = writeln!(t, "    name: {},", ron_string(d.name));
    let _ = writeln!(
        t,
        "    description: {},",
        ron_string(&format!("Imported from: {command}"))
    );
    let _ = writeln!(t, "    seed: 1,");
    let _ = writeln!(
        t,
        "    duration_s: {}, // {}",
        d.duration_s, d.duration_note
    );
    let _ = writeln!(
        t,
        "    warmup_s: 0, // {} measures from the first request",
        d.tool
    );
    match d.cluster_shards {
        None => {
            let _ = writeln!(
                t,
                "    cluster: (engine: redis, mode: standalone, shards: 1, instance: {}),",
                ron_string(DEFAULT_INSTANCE)
            );
        }
        Some(shards) => {
            let _ = writeln!(
                t,
                "    cluster: (engine: redis, mode: cluster, shards: {shards}, instance: {}),",
                ron_string(DEFAULT_INSTANCE)
            );
        }
    }
    let _ = writeln!(t, "    clients: (");
    let _ = writeln!(t, "        hosts: 1, // one {} process", d.tool);
    let _ = writeln!(t, "        workload: (");
    for f in &d.workload {
        let _ = writeln!(t, "            {}: {}, // {}", f.name, f.ron, f.from);
    }
    let _ = writeln!(t, "        ),");
    if let Some((c, why)) = &d.cpu_cost {
        let _ = writeln!(
            t,
            "        // {why}\n        cpu_cost: (per_request_ns: {}, per_reply_ns: {}, per_byte_ps: {}),",
            c.per_request_ns, c.per_reply_ns, c.per_byte_ps
        );
    }
    let _ = writeln!(t, "    ),");
    if empty_prefill {
        let _ = writeln!(
            t,
            "    prefill: (keys: 0), // the whole key range would not fit: see the warning"
        );
    }
    if !d.variants.is_empty() {
        let _ = writeln!(t, "    variants: [");
        for v in &d.variants {
            let fields = v
                .workload
                .iter()
                .map(|f| format!("{}: {}", f.name, f.ron))
                .collect::<Vec<_>>()
                .join(", ");
            let from = v
                .workload
                .iter()
                .map(|f| f.from.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let _ = writeln!(
                t,
                "        (name: {}, patch: (clients: (workload: ({fields})))), // {from}",
                ron_string(&v.name)
            );
        }
        let _ = writeln!(t, "    ],");
    }
    let _ = writeln!(t, ")");
    t
}

/// A RON string literal of `s` (quotes and escapes as ron writes them).
pub(crate) fn ron_string(s: &str) -> String {
    // ron serializes any `str`; the fallback is never reached, but an argv must not be
    // able to panic the importer.
    ron::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// `arg` as a POSIX shell would need it written, so the comment can be pasted back: bare
/// when it holds only safe characters, else single-quoted, and in bash's `$'...'` form
/// when it holds control characters (which would end a `//` comment).
fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_=:,./@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_string();
    }
    if arg.chars().any(char::is_control) {
        let mut out = String::from("$'");
        for c in arg.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        return out;
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// A clap error on the tool's argv as one message naming the flag and what it expects:
/// clap's own text up to its usage line (which would describe kvsim's help, not the
/// tool's).
pub(crate) fn argv_error(tool: &str, command: &clap::Command, e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let mut lines: Vec<String> = Vec::new();
    for line in rendered.lines() {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        // clap's advice to pass a value after `--` is about kvsim's own command line,
        // not the tool's.
        if line.contains("as a value, use '--") {
            continue;
        }
        lines.push(line.to_string());
    }
    if e.kind() == clap::error::ErrorKind::UnknownArgument {
        // getopt_long takes an abbreviation only when it names one option; say which
        // options an ambiguous one could mean rather than that it is unknown.
        let given = match e.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let prefix = given
            .strip_prefix("--")
            .map(|g| g.split('=').next().unwrap_or_default())
            .unwrap_or_default();
        let candidates: Vec<String> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| !prefix.is_empty() && l.starts_with(prefix))
            .map(|l| format!("--{l}"))
            .collect();
        if let Some(first) = lines.first_mut() {
            if candidates.len() > 1 {
                first.push_str(&format!(
                    ": an ambiguous abbreviation of {}",
                    candidates.join(", ")
                ));
            } else {
                first.push_str(&format!(": not one of {tool}'s options"));
            }
        }
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let text = lines.join("\n");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{tool}: {text}")
}

/// Whether the user gave `id` on the command line (not a default).
pub(crate) fn given(m: &ArgMatches, id: &str) -> bool {
    m.value_source(id) == Some(ValueSource::CommandLine)
}

/// The argv position of `id`'s first occurrence, for ordering warnings.
pub(crate) fn position(m: &ArgMatches, id: &str) -> usize {
    m.index_of(id).unwrap_or(usize::MAX)
}

/// How long a run that stops after a request count is given: twice the longest of what
/// one client thread's own CPU takes for all its connections' requests (at kvsim's cost
/// model), what the rate limit allows, and the round trips at the default 50 us one-way
/// latency; at least 10 s. The report's window ends at the last reply, so the idle
/// rest of the run changes no figure; a run whose cluster is slower than that still
/// needs a longer duration (the comment says so).
pub(crate) fn duration_for_requests_s(
    requests_per_connection: u64,
    clients_per_thread: u32,
    pipeline: u32,
    rate_per_connection: Option<u32>,
    cpu: ClientCpuCost,
    value_bytes_max: u32,
) -> u64 {
    const MIN_S: f64 = 10.0;
    // Thirty days: the longest run a scenario may ask for.
    const MAX_S: f64 = 30.0 * 24.0 * 3600.0;
    const ROUND_TRIP_NS: f64 = 100_000.0;
    let requests = requests_per_connection as f64;
    // A request carries its key and header (under 64 bytes) and at most the largest value.
    let bytes = f64::from(value_bytes_max) + 64.0;
    let cpu_s = requests * f64::from(clients_per_thread) * cpu.ns_per_request(bytes, bytes) / 1e9;
    let rate_s = rate_per_connection.map_or(0.0, |r| requests / f64::from(r.max(1)));
    let round_trips_s = requests / f64::from(pipeline.max(1)) * ROUND_TRIP_NS / 1e9;
    let s = 2.0 * cpu_s.max(rate_s).max(round_trips_s);
    s.clamp(MIN_S, MAX_S).ceil() as u64
}

/// The comment beside a duration chosen by [`duration_for_requests_s`].
pub(crate) const DURATION_FOR_REQUESTS_NOTE: &str = "ours: twice what the request count takes the clients' CPU, rate limit and round trips, at least 10 s (the report ends at the last reply; lengthen the run if they still send at its end)";

/// The README's part on one tool's flags (from its heading line to the next tool's or
/// the section's end), for tests that hold the README to the option tables.
#[cfg(test)]
pub(crate) fn readme_part(starts: &str) -> &'static str {
    let readme = include_str!("../README.md");
    let section = readme
        .split("## Importing a benchmark's command line")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_default();
    let part = section.split(starts).nth(1).unwrap_or_default();
    part.split("\nredis-benchmark (").next().unwrap_or_default()
}

/// Whether the README's part names `arg` (its long form, else its short one), quoted.
#[cfg(test)]
pub(crate) fn readme_names(part: &str, arg: &clap::Arg) -> bool {
    match (arg.get_long(), arg.get_short()) {
        (Some(l), _) => part.contains(&format!("--{l}`")) || part.contains(&format!("--{l}=")),
        (None, Some(c)) => part.contains(&format!("`-{c}`")) || part.contains(&format!("`-{c} ")),
        (None, None) => true,
    }
}

/// Asserts that each option of `command` is exactly one of: warned about (`warned`, by
/// id) or mapped to a field or refused (`placed`), so a new option needs a decision.
#[cfg(test)]
pub(crate) fn assert_every_option_placed(
    command: &clap::Command,
    warned: &[(&str, &str)],
    placed: &[&str],
) {
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let is_warned = warned.iter().any(|(w, _)| *w == id);
        let is_placed = placed.contains(&id);
        assert!(
            is_warned != is_placed,
            "{id}: warned {is_warned}, mapped or refused {is_placed}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_round_trips_what_a_shell_needs() {
        assert_eq!(shell_quote("--clients=5"), "--clients=5");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a\nb"), "$'a\\nb'");
        assert!(!shell_quote("x\u{7}\r\n").contains(['\n', '\r', '\u{7}']));
    }

    #[test]
    fn a_request_count_run_lasts_at_least_ten_seconds_and_covers_the_rate_limit() {
        let cpu = ClientCpuCost::DEFAULT;
        assert_eq!(duration_for_requests_s(10_000, 50, 1, None, cpu, 32), 10);
        // 1,000 requests at 10 a second: 100 s, twice.
        assert_eq!(duration_for_requests_s(1_000, 1, 1, Some(10), cpu, 32), 200);
        assert_eq!(
            duration_for_requests_s(u64::MAX, u32::MAX, 1, None, cpu, u32::MAX),
            30 * 24 * 3600
        );
    }
}
