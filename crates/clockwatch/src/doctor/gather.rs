//! Reads what the checklist needs from the node: one collection and its
//! verdict, the running time daemons (/proc), chrony.conf, the timezone,
//! and one NTP probe of the server the verdict's daemon follows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ChronyConf, Facts};
use crate::nodefacts::{read_timezone, running_time_daemons};
use crate::probe::{probe_once, ProbeResult, ServerSpec};
use crate::scrape::Scrape;
use crate::verdict::{Daemon, ReferenceKind};

/// Where to look, from the flags.
#[derive(Debug, Clone)]
pub struct Places {
    pub proc: PathBuf,
    /// chrony.conf candidates, the first that exists is read.
    pub chrony_conf: Vec<PathBuf>,
    pub localtime: PathBuf,
    /// Probe this server instead of the one the daemon follows.
    pub server: Option<ServerSpec>,
    /// The port of the daemon's server (NTP's 123).
    pub server_port: u16,
    pub probe_timeout: Duration,
    pub probe_samples: u32,
    pub expect_timezone: Option<String>,
}

/// What the daemon follows, as a server to probe.
fn selected_server(scrape: &Scrape, places: &Places) -> Option<ServerSpec> {
    if let Some(s) = &places.server {
        return Some(s.clone());
    }
    let r = &scrape.verdict.reference;
    let follows_ntp = matches!(scrape.verdict.daemon, Daemon::Chrony | Daemon::Timesyncd)
        && r.kind == ReferenceKind::Remote
        && !r.name.is_empty();
    follows_ntp.then(|| ServerSpec {
        host: r.name.clone(),
        port: places.server_port,
    })
}

fn chrony_conf(candidates: &[PathBuf]) -> ChronyConf {
    let mut why = Vec::new();
    for path in candidates {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let (makestep, rtcsync) = super::parse_chrony_conf(&text);
                return ChronyConf::Read {
                    path: path.display().to_string(),
                    makestep,
                    rtcsync,
                };
            }
            Err(e) => why.push(format!("{}: {e}", path.display())),
        }
    }
    ChronyConf::Unreadable(format!(
        "no chrony.conf readable here ({}; in a pod, the host's file is not mounted)",
        why.join("; ")
    ))
}

/// The probe of the selected server, if there is one.
pub async fn probe(scrape: &Scrape, places: &Places) -> Option<ProbeResult> {
    let server = selected_server(scrape, places)?;
    probe_once(&[server], places.probe_timeout, places.probe_samples)
        .await
        .pop()
}

/// Everything but the probe, which is async; `probe` is its result.
pub fn facts<'a>(scrape: &'a Scrape, places: &Places, probe: Option<ProbeResult>) -> Facts<'a> {
    Facts {
        snapshot: &scrape.snapshot,
        verdict: &scrape.verdict,
        running: running_time_daemons(&places.proc)
            .map_err(|e| format!("{}: {e}", places.proc.display())),
        chrony_conf: (scrape.verdict.daemon == Daemon::Chrony)
            .then(|| chrony_conf(&places.chrony_conf)),
        probe,
        expect_timezone: places.expect_timezone.clone(),
        timezone: places
            .expect_timezone
            .is_some()
            .then(|| read_timezone(Path::new(&places.localtime)).map_err(|e| e.to_string())),
    }
}
