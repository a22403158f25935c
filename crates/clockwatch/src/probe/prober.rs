//! The background prober: one task per server, a round every interval,
//! the latest result of each kept for whoever asks (a scrape reads them; it
//! never causes a probe).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ntpclient::Kiss;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use super::exchange::{round, Burst, Round, Target};
use super::server::ServerSpec;

/// Default time between two rounds to one server: chrony's and ntpd's
/// default minimum poll interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(64);
/// The shortest interval accepted: NTP servers rate-limit clients that poll
/// more often (RFC 5905's MINPOLL is 16 s).
pub const MIN_INTERVAL: Duration = Duration::from_secs(16);
/// The longest, and the cap of Kiss-o'-Death RATE back-off: 2^17 s
/// (36.4 h), RFC 5905's MAXPOLL.
pub const MAX_INTERVAL: Duration = Duration::from_secs(1 << 17);
/// Default wait for each reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default requests per round.
pub const DEFAULT_SAMPLES: u32 = 4;
/// Most requests per round.
pub const MAX_SAMPLES: u32 = 8;
/// Time between the requests of a round: ntpd's default minimum spacing
/// (`discard minimum`), closer requests may be dropped or kissed.
pub const DEFAULT_SPACING: Duration = Duration::from_secs(2);

/// What to probe and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    pub servers: Vec<ServerSpec>,
    pub interval: Duration,
    pub timeout: Duration,
    pub samples: u32,
    pub spacing: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeConfigError {
    #[error("no NTP server to probe")]
    NoServers,
    #[error("probe interval {0:?} is shorter than the 16 s minimum (NTP servers rate-limit faster clients)")]
    IntervalTooShort(Duration),
    #[error("probe interval {0:?} is longer than the {MAX_INTERVAL:?} maximum")]
    IntervalTooLong(Duration),
    #[error("probe timeout {0:?} must be between 10ms and 10s")]
    Timeout(Duration),
    #[error("probe samples {0} must be between 1 and {MAX_SAMPLES}")]
    Samples(u32),
    #[error("a probe round ({samples} samples {spacing:?} apart, {timeout:?} timeout) must end within the interval {interval:?}")]
    RoundTooLong {
        samples: u32,
        spacing: Duration,
        timeout: Duration,
        interval: Duration,
    },
}

impl ProbeConfig {
    /// `servers` with the default interval, timeout, samples and spacing.
    pub fn new(servers: Vec<ServerSpec>) -> Self {
        Self {
            servers,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            samples: DEFAULT_SAMPLES,
            spacing: DEFAULT_SPACING,
        }
    }

    pub fn burst(&self) -> Burst {
        Burst {
            samples: self.samples,
            spacing: self.spacing,
            timeout: self.timeout,
        }
    }

    pub fn validate(&self) -> Result<(), ProbeConfigError> {
        if self.servers.is_empty() {
            return Err(ProbeConfigError::NoServers);
        }
        if self.interval < MIN_INTERVAL {
            return Err(ProbeConfigError::IntervalTooShort(self.interval));
        }
        if self.interval > MAX_INTERVAL {
            return Err(ProbeConfigError::IntervalTooLong(self.interval));
        }
        validate_burst(self.burst())?;
        if self.burst().longest() >= self.interval {
            return Err(ProbeConfigError::RoundTooLong {
                samples: self.samples,
                spacing: self.spacing,
                timeout: self.timeout,
                interval: self.interval,
            });
        }
        Ok(())
    }
}

fn validate_burst(burst: Burst) -> Result<(), ProbeConfigError> {
    if burst.timeout < Duration::from_millis(10) || burst.timeout > Duration::from_secs(10) {
        return Err(ProbeConfigError::Timeout(burst.timeout));
    }
    if !(1..=MAX_SAMPLES).contains(&burst.samples) {
        return Err(ProbeConfigError::Samples(burst.samples));
    }
    Ok(())
}

/// The best sample of a round. Seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeSample {
    /// Node clock minus server clock: positive when the node is ahead.
    pub offset: f64,
    pub delay: f64,
    pub stratum: u8,
    /// The server's root delay / 2 + root dispersion.
    pub root_distance: f64,
    /// delay / 2 + root distance: the node's true offset from UTC lies in
    /// offset ± uncertainty (if the server's own claim holds).
    pub uncertainty: f64,
    /// Valid samples in the round, and samples that ended.
    pub valid: u32,
    pub completed: u32,
}

/// Why the last round gave no sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// Stable and short: timeout, refused, resolve, not_ours, mode, version,
    /// kiss_rate, kiss_deny, kiss_rstr, kiss_other, unsynchronised, stratum,
    /// truncated, oversized, misaligned, zero_transmit,
    /// server_times_reversed, io, random.
    pub kind: &'static str,
    /// For people: what happened, with the values.
    pub message: String,
}

/// The state of one server after its latest round.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// As configured: `host:port`.
    pub server: String,
    /// The address the last round went to (None before the first, or when
    /// the name does not resolve).
    pub address: Option<SocketAddr>,
    /// The last round's best sample; None when it failed or before the
    /// first round.
    pub sample: Option<ProbeSample>,
    /// Why the last round failed.
    pub failure: Option<ProbeFailure>,
    /// When the last round that succeeded started (system clock).
    pub last_success: Option<SystemTime>,
    /// Rounds done.
    pub rounds: u64,
    /// The interval in force: the configured one, doubled by each
    /// Kiss-o'-Death RATE up to [`MAX_INTERVAL`]; zero from [`probe_once`].
    pub interval: Duration,
    /// The server sent Kiss-o'-Death DENY or RSTR: no more rounds.
    pub stopped: bool,
}

impl ProbeResult {
    fn new(spec: &ServerSpec, interval: Duration) -> Self {
        Self {
            server: spec.to_string(),
            address: None,
            sample: None,
            failure: None,
            last_success: None,
            rounds: 0,
            interval,
            stopped: false,
        }
    }

    /// The last round gave a sample.
    pub fn success(&self) -> bool {
        self.sample.is_some()
    }

    fn absorb(&mut self, round: &Round, schedule: &Schedule) {
        self.rounds += 1;
        self.address = round.address;
        self.interval = schedule.interval;
        self.stopped = schedule.stopped;
        match &round.best {
            Ok(m) => {
                self.sample = Some(ProbeSample {
                    offset: m.offset,
                    delay: m.delay,
                    stratum: m.stratum,
                    root_distance: m.root_distance(),
                    uncertainty: m.uncertainty(),
                    valid: round.valid,
                    completed: round.completed,
                });
                self.failure = None;
                self.last_success = Some(round.at);
            }
            Err(e) => {
                self.sample = None;
                self.failure = Some(ProbeFailure {
                    kind: e.kind(),
                    message: e.to_string(),
                });
            }
        }
    }
}

/// When the next round is due, after what the server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) interval: Duration,
    pub(crate) stopped: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait `interval`; `backed_off` when a RATE kiss just lengthened it.
    Wait {
        interval: Duration,
        backed_off: bool,
    },
    /// DENY or RSTR: never again.
    Stop(Kiss),
}

impl Schedule {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            interval,
            stopped: false,
        }
    }

    pub(crate) fn after(&mut self, kiss: Option<Kiss>) -> Step {
        match kiss {
            Some(k) if k.forbids_probing() => {
                self.stopped = true;
                Step::Stop(k)
            }
            Some(Kiss::Rate) => {
                let longer = (self.interval * 2).min(MAX_INTERVAL);
                let backed_off = longer != self.interval;
                self.interval = longer;
                Step::Wait {
                    interval: longer,
                    backed_off,
                }
            }
            // Other codes (INIT, STEP, ...) are advisory.
            _ => Step::Wait {
                interval: self.interval,
                backed_off: false,
            },
        }
    }
}

/// Probes the configured servers in the background; see the module docs.
pub struct Prober {
    results: Arc<Mutex<Vec<ProbeResult>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Prober {
    /// Validates `config` and starts one task per server on the current
    /// tokio runtime (call it from inside the runtime). The first round of
    /// each server starts at once. Dropping the prober stops the tasks.
    pub fn start(config: ProbeConfig) -> Result<Arc<Prober>, ProbeConfigError> {
        config.validate()?;
        let results = Arc::new(Mutex::new(
            config
                .servers
                .iter()
                .map(|s| ProbeResult::new(s, config.interval))
                .collect::<Vec<_>>(),
        ));
        let tasks = config
            .servers
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                tokio::spawn(probe_forever(
                    index,
                    spec.clone(),
                    config.burst(),
                    config.interval,
                    results.clone(),
                ))
            })
            .collect();
        tracing::info!(
            servers = %config.servers.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            interval = ?config.interval,
            samples = config.samples,
            timeout = ?config.timeout,
            "NTP probe started"
        );
        Ok(Arc::new(Prober { results, tasks }))
    }

    /// The latest result of every server, in the configured order. Cheap:
    /// a copy under a lock no probe holds across I/O.
    pub fn results(&self) -> Vec<ProbeResult> {
        lock(&self.results).clone()
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock(results: &Mutex<Vec<ProbeResult>>) -> std::sync::MutexGuard<'_, Vec<ProbeResult>> {
    // A panic elsewhere while holding it leaves plain data, still valid.
    results.lock().unwrap_or_else(|p| p.into_inner())
}

async fn probe_forever(
    index: usize,
    spec: ServerSpec,
    burst: Burst,
    interval: Duration,
    results: Arc<Mutex<Vec<ProbeResult>>>,
) {
    let target = Target::new(&spec);
    let mut schedule = Schedule::new(interval);
    loop {
        let started = Instant::now();
        let round = round(&spec, &target, burst).await;
        let step = schedule.after(round.kiss);
        {
            let mut all = lock(&results);
            let Some(result) = all.get_mut(index) else {
                return;
            };
            let before = result.clone();
            result.absorb(&round, &schedule);
            log_round(&before, result, step);
        }
        match step {
            Step::Stop(_) => return,
            Step::Wait { interval, .. } => {
                tokio::time::sleep_until(started + jittered(interval)).await;
            }
        }
    }
}

/// `interval` lengthened by up to 1/16 at random, so that a fleet started
/// at once does not keep probing a shared server in the same second.
fn jittered(interval: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let spread = if getrandom::fill(&mut byte).is_ok() {
        f64::from(byte[0]) / 255.0 / 16.0
    } else {
        0.0
    };
    interval.mul_f64(1.0 + spread)
}

/// One line when something changes: a kiss, a new reason for failing, a
/// recovery, the first answer. Nothing for a round like the one before.
fn log_round(before: &ProbeResult, after: &ProbeResult, step: Step) {
    let server = &after.server;
    let address = after.address.map(|a| a.to_string()).unwrap_or_default();
    match step {
        Step::Stop(kiss) => {
            tracing::warn!(%server, %address, code = %kiss,
                "NTP server sent Kiss-o'-Death {kiss}: it refuses us; not probing it again until clockwatch restarts");
            return;
        }
        Step::Wait {
            interval,
            backed_off: true,
        } => {
            tracing::warn!(%server, %address, interval = ?interval,
                "NTP server sent Kiss-o'-Death RATE: probing it every {} from now on",
                humantime::format_duration(interval));
            return;
        }
        Step::Wait { .. } => {}
    }
    match (&before.failure, &after.failure, &after.sample) {
        (_, Some(now), _) if before.failure.as_ref().map(|f| f.kind) != Some(now.kind) => {
            tracing::warn!(%server, %address, reason = now.kind, error = %now.message,
                "NTP probe failed");
        }
        (Some(_), None, Some(s)) => {
            tracing::info!(%server, %address, offset = s.offset, uncertainty = s.uncertainty,
                "NTP probe answers again");
        }
        (None, None, Some(s)) if before.rounds == 0 => {
            tracing::info!(%server, %address, offset = s.offset, delay = s.delay,
                stratum = s.stratum, uncertainty = s.uncertainty, "NTP probe: first answer");
        }
        _ => {}
    }
}

/// One round to each of `servers`, all at once, with `samples` requests per
/// server spaced [`DEFAULT_SPACING`] apart and `timeout` for each reply;
/// the results in the order given. For the `probe` command.
pub async fn probe_once(
    servers: &[ServerSpec],
    timeout: Duration,
    samples: u32,
) -> Vec<ProbeResult> {
    probe_once_with(
        servers,
        Burst {
            samples,
            spacing: DEFAULT_SPACING,
            timeout,
        },
    )
    .await
}

/// [`probe_once`] with the spacing chosen too.
pub async fn probe_once_with(servers: &[ServerSpec], burst: Burst) -> Vec<ProbeResult> {
    let mut rounds = JoinSet::new();
    for (index, spec) in servers.iter().cloned().enumerate() {
        rounds.spawn(async move {
            let target = Target::new(&spec);
            let round = round(&spec, &target, burst).await;
            (index, round)
        });
    }
    let mut results: Vec<ProbeResult> = servers
        .iter()
        .map(|s| ProbeResult::new(s, Duration::ZERO))
        .collect();
    while let Some(joined) = rounds.join_next().await {
        let Ok((index, round)) = joined else { continue };
        let mut schedule = Schedule::new(Duration::ZERO);
        schedule.after(round.kiss);
        if let Some(result) = results.get_mut(index) {
            result.absorb(&round, &schedule);
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(port: u16) -> ServerSpec {
        ServerSpec {
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn rate_doubles_the_interval_up_to_the_cap_and_deny_stops() {
        let mut s = Schedule::new(Duration::from_secs(64));
        assert_eq!(
            s.after(None),
            Step::Wait {
                interval: Duration::from_secs(64),
                backed_off: false
            }
        );
        assert_eq!(
            s.after(Some(Kiss::Rate)),
            Step::Wait {
                interval: Duration::from_secs(128),
                backed_off: true
            }
        );
        // Advisory codes change nothing.
        assert_eq!(
            s.after(Some(Kiss::Other(*b"INIT"))),
            Step::Wait {
                interval: Duration::from_secs(128),
                backed_off: false
            }
        );
        for _ in 0..20 {
            s.after(Some(Kiss::Rate));
        }
        assert_eq!(s.interval, MAX_INTERVAL);
        assert_eq!(
            s.after(Some(Kiss::Rate)),
            Step::Wait {
                interval: MAX_INTERVAL,
                backed_off: false
            }
        );
        for kiss in [Kiss::Deny, Kiss::Rstr] {
            let mut s = Schedule::new(Duration::from_secs(64));
            assert_eq!(s.after(Some(kiss)), Step::Stop(kiss));
            assert!(s.stopped);
        }
    }

    #[test]
    fn the_configuration_is_checked() {
        let ok = ProbeConfig::new(vec![local(123)]);
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(
            ProbeConfig::new(vec![]).validate(),
            Err(ProbeConfigError::NoServers)
        );
        let fast = ProbeConfig {
            interval: Duration::from_secs(15),
            ..ok.clone()
        };
        assert_eq!(
            fast.validate(),
            Err(ProbeConfigError::IntervalTooShort(Duration::from_secs(15)))
        );
        let many = ProbeConfig {
            samples: 9,
            ..ok.clone()
        };
        assert_eq!(many.validate(), Err(ProbeConfigError::Samples(9)));
        let none = ProbeConfig {
            samples: 0,
            ..ok.clone()
        };
        assert_eq!(none.validate(), Err(ProbeConfigError::Samples(0)));
        let slow = ProbeConfig {
            timeout: Duration::from_secs(11),
            ..ok.clone()
        };
        assert_eq!(
            slow.validate(),
            Err(ProbeConfigError::Timeout(Duration::from_secs(11)))
        );
        // 8 samples 2 s apart and a 3 s timeout take 17 s: more than 16 s.
        let long = ProbeConfig {
            interval: Duration::from_secs(16),
            samples: 8,
            timeout: Duration::from_secs(3),
            ..ok
        };
        assert!(matches!(
            long.validate(),
            Err(ProbeConfigError::RoundTooLong { .. })
        ));
    }

    #[test]
    fn jitter_lengthens_by_at_most_a_sixteenth() {
        for _ in 0..100 {
            let j = jittered(Duration::from_secs(64));
            assert!(
                j >= Duration::from_secs(64) && j <= Duration::from_secs(68),
                "{j:?}"
            );
        }
    }
}
