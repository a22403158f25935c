//! The PTP collectors: every configured ptp4l instance read at once
//! (`ptp`), and the PTP hardware clock the system clock is steered from
//! (`phc`, with `--ptp.phc`). Each fails alone; a failed instance fails
//! nothing else.
//!
//! The PTP rules need what earlier collections saw (the last good sample,
//! for holdover; when the current measurement was first seen). That memory
//! is kept here, one per instance, and handed to the verdict in the
//! snapshot as data, with the time of the collection and the rules'
//! configuration: the verdict stays a pure function of the snapshot.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{CollectorName, CollectorOutcome};
use crate::ptp::{read_phc_offset, BoundConfig, Now, PtpClient, PtpMemory, PtpReport, ReplySocket};
use crate::sys::PhcOffset;

/// What the PTP collectors read, from the flags.
#[derive(Debug, Clone)]
pub struct PtpConfig {
    /// ptp4l management sockets, one per instance.
    pub sockets: Vec<PathBuf>,
    /// Deadline of one instance's collection.
    pub timeout: Duration,
    /// The instances' PTP domain and transportSpecific (ptp4l ignores
    /// management messages with others).
    pub domain: u8,
    pub transport_specific: u8,
    /// Where ptp4l's answers are received.
    pub reply: ReplySocket,
    /// The PHC phc2sys steers the system clock from.
    pub phc: Option<PathBuf>,
    /// The bound's assumptions.
    pub bound: BoundConfig,
}

/// Why something could not be read: a short stable kind (for metrics) and
/// the full message (for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
}

/// One ptp4l instance in one collection.
#[derive(Debug, Clone)]
pub struct PtpInstance {
    /// Its management socket (identifies the instance).
    pub socket: PathBuf,
    pub report: Result<PtpReport, Failure>,
    /// What the collections before this one left for the assessment.
    pub memory: PtpMemory,
}

/// One reading of the PHC against the system clock.
#[derive(Debug, Clone)]
pub struct PhcReading {
    pub device: PathBuf,
    pub result: Result<PhcOffset, Failure>,
}

/// The PTP side of a snapshot: everything the PTP rules need.
#[derive(Debug, Clone)]
pub struct PtpView {
    /// In the configured order.
    pub instances: Vec<PtpInstance>,
    /// None without `--ptp.phc`.
    pub phc: Option<PhcReading>,
    /// When the collection finished, on the monotonic clock the memory's
    /// times are on, and on the system clock.
    pub now: Now,
    /// The assumptions the memory was kept with, and the verdict applies.
    pub config: BoundConfig,
}

impl PtpView {
    /// The PHC offset, when it was read.
    pub fn phc_offset(&self) -> Option<&PhcOffset> {
        self.phc.as_ref().and_then(|p| p.result.as_ref().ok())
    }
}

/// The PTP collectors and their memory.
pub struct PtpCollector {
    clients: Vec<Arc<PtpClient>>,
    phc: Option<PathBuf>,
    config: BoundConfig,
    /// The origin of [`Now::monotonic`].
    origin: Instant,
    /// Per instance, in the configured order.
    memory: Mutex<Vec<PtpMemory>>,
    /// Per instance, the last failure logged (logged when it changes).
    logged: Mutex<Vec<Option<String>>>,
}

impl PtpCollector {
    pub fn new(config: PtpConfig) -> Self {
        let clients: Vec<Arc<PtpClient>> = config
            .sockets
            .iter()
            .map(|socket| {
                Arc::new(
                    PtpClient::new(socket, config.timeout)
                        .with_reply_socket(config.reply.clone())
                        .with_domain(config.domain)
                        .with_transport_specific(config.transport_specific),
                )
            })
            .collect();
        let n = clients.len();
        Self {
            clients,
            phc: config.phc,
            config: config.bound,
            origin: Instant::now(),
            memory: Mutex::new(vec![PtpMemory::default(); n]),
            logged: Mutex::new(vec![None; n]),
        }
    }

    /// Reads every instance at once, then the PHC; each instance takes at
    /// most the timeout.
    pub async fn collect(&self, outcomes: &mut Vec<CollectorOutcome>) -> PtpView {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, client) in self.clients.iter().enumerate() {
            let client = client.clone();
            tasks.spawn(async move { (i, client.collect().await) });
        }
        let mut reports: Vec<Option<Result<PtpReport, Failure>>> = vec![None; self.clients.len()];
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((i, result)) => {
                    reports[i] = Some(result.map_err(|e| Failure {
                        kind: e.kind(),
                        message: e.to_string(),
                    }));
                }
                // A collection that panicked: a bug, reported, not spread.
                Err(e) => tracing::error!(error = %e, "a ptp4l collection failed"),
            }
        }
        let reports: Vec<Result<PtpReport, Failure>> = reports
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Failure {
                        kind: "io",
                        message: "the collection did not finish".into(),
                    })
                })
            })
            .collect();
        let failures: Vec<String> = reports
            .iter()
            .filter_map(|r| r.as_ref().err().map(|f| f.message.clone()))
            .collect();
        outcomes.push(CollectorOutcome {
            name: CollectorName::Ptp,
            success: failures.is_empty(),
            duration: started.elapsed(),
            error: (!failures.is_empty()).then(|| failures.join("; ")),
        });
        self.log_changes(&reports);

        let phc = self.phc.as_ref().map(|device| {
            let started = Instant::now();
            let result = read_phc_offset(device).map_err(|e| Failure {
                kind: e.kind(),
                message: e.to_string(),
            });
            outcomes.push(CollectorOutcome {
                name: CollectorName::Phc,
                success: result.is_ok(),
                duration: started.elapsed(),
                error: result.as_ref().err().map(|f| f.message.clone()),
            });
            PhcReading {
                device: device.clone(),
                result,
            }
        });

        let now = Now {
            monotonic: self.origin.elapsed(),
            realtime_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0),
        };
        let offset = phc.as_ref().and_then(|p| p.result.as_ref().ok());
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        let instances = self
            .clients
            .iter()
            .zip(reports)
            .zip(memory.iter_mut())
            .map(|((client, report), kept)| {
                let before = kept.clone();
                *kept = before.after(report.as_ref().ok(), offset, now, &self.config);
                PtpInstance {
                    socket: client.socket().to_path_buf(),
                    report,
                    memory: before,
                }
            })
            .collect();
        PtpView {
            instances,
            phc,
            now,
            config: self.config.clone(),
        }
    }

    /// Logs an instance's failure when it starts or changes, and its
    /// recovery: the log says why `clockwatch_ptp_up` is 0, once.
    fn log_changes(&self, reports: &[Result<PtpReport, Failure>]) {
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        for ((client, report), last) in self.clients.iter().zip(reports).zip(logged.iter_mut()) {
            let now = report.as_ref().err().map(|f| f.message.clone());
            if *last == now {
                continue;
            }
            let socket = client.socket().display();
            match &now {
                Some(error) => tracing::warn!(%socket, %error, "ptp4l cannot be read"),
                None => tracing::info!(%socket, "ptp4l answers again"),
            }
            *last = now;
        }
    }
}
