//! Sample responses for examples and test peers. Not part of the stable API.

use crate::datasets::CurrentDataSet;
use crate::message::{Dataset, GetRequest, Header, Response, ResponseBody};
use crate::types::{ClockIdentity, PortIdentity, TimeInterval};

/// The clock identity the samples answer from.
pub const CLOCK: ClockIdentity = ClockIdentity([0x02, 0xaf, 0x4d, 0xff, 0xfe, 0x8c, 0x52, 0xe8]);

/// The header of a response to `request`, sent from `port` of [`CLOCK`]
/// (0 for a clock's dataset), the way ptp4l addresses it.
pub fn response_header(request: &GetRequest, port: u16) -> Header {
    Header {
        source_port_identity: PortIdentity {
            clock_identity: CLOCK,
            port_number: port,
        },
        target_port_identity: request.header.source_port_identity,
        ..request.header.clone()
    }
}

/// A plausible CURRENT_DATA_SET response to `request`: 416 ns offset,
/// 2860 ns mean path delay, one step from the grandmaster.
pub fn current_data_set_response(request: &GetRequest) -> Vec<u8> {
    Response {
        header: response_header(request, 0),
        body: ResponseBody::Dataset(Dataset::CurrentDataSet(CurrentDataSet {
            steps_removed: 1,
            offset_from_master: TimeInterval(416 << 16),
            mean_path_delay: TimeInterval(2860 << 16),
        })),
    }
    .encode()
}
