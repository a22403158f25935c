//! The IEEE 1588 value types the datasets are made of: identities, clock
//! quality, time intervals and the enumerations (port state, delay
//! mechanism, time source, clock accuracy, linuxptp's timestamping).
//!
//! Enumerations keep values this crate has no name for (`Other`), so that a
//! newer daemon's value is shown, not refused.

use std::fmt;

/// An 8-octet clockIdentity (an EUI-64, usually built from the NIC's MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ClockIdentity(pub [u8; 8]);

impl ClockIdentity {
    /// All ones: with port number 0xFFFF, the wildcard that every clock and
    /// port answers.
    pub const ALL: ClockIdentity = ClockIdentity([0xff; 8]);
}

impl fmt::Display for ClockIdentity {
    /// `aabbcc.ddee.ff0011`, the form linuxptp's tools print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
        )
    }
}

/// A portIdentity: the clock and the port's number on it (1 for the first
/// port; linuxptp numbers its management socket 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PortIdentity {
    /// The clock the port belongs to.
    pub clock_identity: ClockIdentity,
    /// The port's number.
    pub port_number: u16,
}

impl PortIdentity {
    /// The wildcard target: every port of every clock the message reaches.
    pub const WILDCARD: PortIdentity = PortIdentity {
        clock_identity: ClockIdentity::ALL,
        port_number: 0xffff,
    };
}

impl fmt::Display for PortIdentity {
    /// `aabbcc.ddee.ff0011-1`, the form linuxptp's tools print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.clock_identity, self.port_number)
    }
}

/// A clockQuality: what a clock says about itself in announce messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClockQuality {
    /// clockClass: 6 locked to a primary reference (e.g. GNSS), 7 in
    /// holdover within specification, 52/187 degraded, 248 the default of
    /// an unsynchronised clock, 255 slave-only.
    pub clock_class: u8,
    /// clockAccuracy: the stated bound on the clock's time error.
    pub clock_accuracy: ClockAccuracy,
    /// offsetScaledLogVariance: the clock's stated stability (0xFFFF: not
    /// computed).
    pub offset_scaled_log_variance: u16,
}

/// A clockAccuracy value: the clock's own statement of how close its time
/// is to the time scale (IEEE 1588-2019 table 5; 0x17-0x1F were added to
/// the table of 1588-2008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ClockAccuracy(pub u8);

/// The bounded entries of the clockAccuracy table, from 0x17, in seconds.
const ACCURACY_SECONDS: [f64; 26] = [
    1e-12, 2.5e-12, 1e-11, 2.5e-11, 1e-10, 2.5e-10, 1e-9, 2.5e-9, 1e-8, // 0x17-0x1F
    2.5e-8, 1e-7, 2.5e-7, 1e-6, 2.5e-6, 1e-5, 2.5e-5, 1e-4, 2.5e-4, // 0x20-0x28
    1e-3, 2.5e-3, 1e-2, 2.5e-2, 1e-1, 2.5e-1, 1.0, 10.0, // 0x29-0x30
];

impl ClockAccuracy {
    /// 0xFE: the clock does not state its accuracy (linuxptp's default).
    pub const UNKNOWN: ClockAccuracy = ClockAccuracy(0xfe);

    /// The stated bound in seconds: "the time is accurate to within" this.
    /// None where the value bounds nothing: "greater than 10 s" (0x31),
    /// unknown (0xFE), a profile-specific value (0x80-0xFD) or a reserved
    /// one.
    pub fn seconds(self) -> Option<f64> {
        let index = usize::from(self.0.checked_sub(0x17)?);
        ACCURACY_SECONDS.get(index).copied()
    }
}

impl fmt::Display for ClockAccuracy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x}", self.0)
    }
}

/// A TimeInterval: nanoseconds multiplied by 2^16, signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TimeInterval(pub i64);

impl TimeInterval {
    /// The value 1588 sends when the interval does not fit ("too big to be
    /// represented").
    pub const SATURATED: TimeInterval = TimeInterval(i64::MAX);

    /// True for [`TimeInterval::SATURATED`]: the value is not a measurement.
    pub fn is_saturated(self) -> bool {
        self == Self::SATURATED
    }

    /// In nanoseconds, with the 16 fractional bits.
    pub fn nanoseconds(self) -> f64 {
        self.0 as f64 / 65536.0
    }

    /// In seconds.
    pub fn seconds(self) -> f64 {
        self.nanoseconds() * 1e-9
    }
}

/// A ScaledNs (IEEE 802.1AS): a signed 96-bit count of 2^-16 ns, sent as
/// its high 16 bits, the next 64 bits, and the 16 fractional bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScaledNs {
    /// The most significant 16 bits of the nanoseconds.
    pub nanoseconds_msb: u16,
    /// The least significant 64 bits of the nanoseconds.
    pub nanoseconds_lsb: u64,
    /// Fractional nanoseconds, in 2^-16 ns.
    pub fractional_nanoseconds: u16,
}

impl ScaledNs {
    /// In nanoseconds (exact to 2^-16 ns as long as the magnitude is below
    /// 2^37 ns, about 2 minutes).
    pub fn nanoseconds(self) -> f64 {
        let raw = (i128::from(self.nanoseconds_msb as i16) << 80)
            | (i128::from(self.nanoseconds_lsb) << 16)
            | i128::from(self.fractional_nanoseconds);
        raw as f64 / 65536.0
    }
}

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this crate has no name for.
            Other($repr),
        }

        impl $name {
            /// The enumeration's value on the wire.
            pub fn to_wire(self) -> $repr {
                match self {
                    $( $name::$variant => $value, )*
                    $name::Other(v) => v,
                }
            }

            /// Decodes a value; unnamed values become `Other`.
            pub fn from_wire(v: $repr) -> Self {
                match v {
                    $( $value => $name::$variant, )*
                    other => $name::Other(other),
                }
            }

            /// The name linuxptp's `pmc` prints, or None for `Other`.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($text), )*
                    $name::Other(_) => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{:#x}", self.to_wire()),
                }
            }
        }
    };
}

wire_enum! {
    /// A port's state in the IEEE 1588 state machine.
    PortState: u8 {
        /// Starting up.
        Initializing = 1 => "INITIALIZING",
        /// Failed (e.g. timestamps missing); it recovers by itself.
        Faulty = 2 => "FAULTY",
        /// Switched off by configuration or management.
        Disabled = 3 => "DISABLED",
        /// Waiting for announce messages (no master heard yet, or the last
        /// one timed out).
        Listening = 4 => "LISTENING",
        /// About to become master.
        PreMaster = 5 => "PRE_MASTER",
        /// Serving time to the link.
        Master = 6 => "MASTER",
        /// Another port of the network is master of the link.
        Passive = 7 => "PASSIVE",
        /// A master is chosen, the clock is not locked to it yet.
        Uncalibrated = 8 => "UNCALIBRATED",
        /// Locked to the master: the clock is synchronised through this port.
        Slave = 9 => "SLAVE",
    }
}

wire_enum! {
    /// How a port measures the path delay.
    DelayMechanism: u8 {
        /// Delay request-response, end to end.
        E2e = 1 => "E2E",
        /// Peer delay, link by link.
        P2p = 2 => "P2P",
        /// 1588-2019's common peer delay service.
        CommonP2p = 3 => "COMMON_P2P",
        /// 1588-2019's profile-specific mechanism.
        Special = 4 => "SPECIAL",
        /// No delay measurement.
        NoMechanism = 0xfe => "NO_MECHANISM",
    }
}

wire_enum! {
    /// The grandmaster's source of time (timePropertiesDS.timeSource).
    TimeSource: u8 {
        /// An atomic clock.
        AtomicClock = 0x10 => "ATOMIC_CLOCK",
        /// A satellite system (1588-2008 called it GPS).
        Gnss = 0x20 => "GNSS",
        /// A terrestrial radio time signal.
        TerrestrialRadio = 0x30 => "TERRESTRIAL_RADIO",
        /// A serial time code (1588-2019).
        SerialTimeCode = 0x39 => "SERIAL_TIME_CODE",
        /// Another PTP domain.
        Ptp = 0x40 => "PTP",
        /// NTP.
        Ntp = 0x50 => "NTP",
        /// Set by hand.
        HandSet = 0x60 => "HAND_SET",
        /// Another source.
        OtherSource = 0x90 => "OTHER",
        /// The clock's own oscillator: free-running, traceable to nothing.
        InternalOscillator = 0xa0 => "INTERNAL_OSCILLATOR",
    }
}

wire_enum! {
    /// How a linuxptp port timestamps (PORT_PROPERTIES_NP).
    Timestamping: u8 {
        /// By the kernel's network stack: microseconds of jitter.
        Software = 0 => "SOFTWARE",
        /// By the NIC's PTP hardware clock.
        Hardware = 1 => "HARDWARE",
        /// By hardware, the legacy way.
        LegacyHw = 2 => "LEGACY_HW",
        /// Hardware, one-step sync.
        OneStep = 3 => "ONESTEP",
        /// Hardware, one-step sync and peer delay.
        P2p1Step = 4 => "P2P1STEP",
    }
}

wire_enum! {
    /// managementErrorId of a MANAGEMENT_ERROR_STATUS TLV.
    ManagementErrorId: u16 {
        /// The response would not fit a message.
        ResponseTooBig = 0x0001 => "RESPONSE_TOO_BIG",
        /// The managementId is not known to the responder.
        NoSuchId = 0x0002 => "NO_SUCH_ID",
        /// The data field's length is wrong.
        WrongLength = 0x0003 => "WRONG_LENGTH",
        /// A value is out of range.
        WrongValue = 0x0004 => "WRONG_VALUE",
        /// The value cannot be set.
        NotSetable = 0x0005 => "NOT_SETABLE",
        /// The responder does not support the request.
        NotSupported = 0x0006 => "NOT_SUPPORTED",
        /// 1588-2019: the responder has no such table entry.
        Unpopulated = 0x0007 => "UNPOPULATED",
        /// Any other error.
        GeneralError = 0xfffe => "GENERAL_ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_accuracy_table() {
        let s = |v: u8| ClockAccuracy(v).seconds();
        assert_eq!(s(0x17), Some(1e-12));
        assert_eq!(s(0x1d), Some(1e-9));
        assert_eq!(s(0x20), Some(25e-9));
        assert_eq!(s(0x21), Some(100e-9));
        assert_eq!(s(0x22), Some(250e-9));
        assert_eq!(s(0x23), Some(1e-6));
        assert_eq!(s(0x27), Some(100e-6));
        assert_eq!(s(0x29), Some(1e-3));
        assert_eq!(s(0x2f), Some(1.0));
        assert_eq!(s(0x30), Some(10.0));
        // "greater than 10 s", reserved, profile-specific, unknown.
        for v in [0x00, 0x16, 0x31, 0x32, 0x7f, 0x80, 0xfd, 0xfe, 0xff] {
            assert_eq!(s(v), None, "{v:#x}");
        }
        // Each step of the bounded table is 2.5x or 4x the one before, as
        // the table's 1 / 2.5 / 10 / 25 ... pattern has it (up to 1 s).
        for v in 0x18..=0x2f {
            let ratio = s(v).unwrap_or(0.0) / s(v - 1).unwrap_or(1.0);
            assert!(
                (ratio - 2.5).abs() < 1e-9 || (ratio - 4.0).abs() < 1e-9,
                "{v:#x}"
            );
        }
    }

    #[test]
    fn identities_print_like_pmc() {
        let c = ClockIdentity([0x02, 0xaf, 0x4d, 0xff, 0xfe, 0x8c, 0x52, 0xe8]);
        assert_eq!(c.to_string(), "02af4d.fffe.8c52e8");
        let p = PortIdentity {
            clock_identity: c,
            port_number: 1,
        };
        assert_eq!(p.to_string(), "02af4d.fffe.8c52e8-1");
    }

    #[test]
    fn enumerations_keep_unknown_values() {
        assert_eq!(PortState::from_wire(9), PortState::Slave);
        assert_eq!(PortState::from_wire(10), PortState::Other(10));
        assert_eq!(PortState::Other(10).to_wire(), 10);
        assert_eq!(PortState::Uncalibrated.to_string(), "UNCALIBRATED");
        assert_eq!(PortState::Other(10).to_string(), "0xa");
        assert_eq!(
            TimeSource::from_wire(0xa0).name(),
            Some("INTERNAL_OSCILLATOR")
        );
        assert_eq!(DelayMechanism::from_wire(1), DelayMechanism::E2e);
        assert_eq!(ManagementErrorId::from_wire(2), ManagementErrorId::NoSuchId);
    }

    #[test]
    fn time_interval_units() {
        let t = TimeInterval(2860 << 16 | 0x8000);
        assert_eq!(t.nanoseconds(), 2860.5);
        assert!((t.seconds() - 2860.5e-9).abs() < 1e-18);
        assert!(TimeInterval::SATURATED.is_saturated());
        assert_eq!(TimeInterval(-(1 << 16)).nanoseconds(), -1.0);
    }

    #[test]
    fn scaled_ns_sign_and_fraction() {
        let one_and_half = ScaledNs {
            nanoseconds_msb: 0,
            nanoseconds_lsb: 1,
            fractional_nanoseconds: 0x8000,
        };
        assert_eq!(one_and_half.nanoseconds(), 1.5);
        let minus_one = ScaledNs {
            nanoseconds_msb: 0xffff,
            nanoseconds_lsb: u64::MAX,
            fractional_nanoseconds: 0,
        };
        assert_eq!(minus_one.nanoseconds(), -1.0);
    }
}
