//! Sample replies for examples and test peers. Not part of the stable API.

use crate::reply::{Reply, ReplyBody, ReplyHeader};
use crate::status::Status;
use crate::types::{Address, LeapStatus, RefId, Timespec, Tracking};

/// A plausible tracking reply to a `tracking` request with `sequence`.
pub fn tracking_reply(sequence: u32) -> Vec<u8> {
    Reply {
        header: ReplyHeader {
            command: 33,
            reply_type: 5,
            status: Status::Success,
            sequence,
        },
        body: ReplyBody::Tracking(Tracking {
            ref_id: RefId(0x7F00_0001),
            ip_addr: Address::V4([127, 0, 0, 1].into()),
            stratum: 4,
            leap_status: LeapStatus::Normal,
            ref_time: Timespec {
                seconds: 1_700_000_000,
                nanos: 500_000_000,
            },
            current_correction: 1.5e-6,
            last_offset: -2.0e-6,
            rms_offset: 3.0e-6,
            freq_ppm: -12.5,
            resid_freq_ppm: 0.01,
            skew_ppm: 0.2,
            root_delay: 1.0e-3,
            root_dispersion: 2.0e-4,
            last_update_interval: 16.0,
        }),
    }
    .encode()
}
