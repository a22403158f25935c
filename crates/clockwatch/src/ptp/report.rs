//! Everything one collection read from a ptp4l instance.

use std::path::PathBuf;

use ptpmgmt::{
    CurrentDataSet, DefaultDataSet, ParentDataSet, PortDataSet, PortPropertiesNp, PortState,
    TimePropertiesDataSet, TimeStatusNp,
};

/// The datasets of one ptp4l instance, as one collection found them.
#[derive(Debug, Clone, PartialEq)]
pub struct PtpReport {
    /// The management socket they were read from (identifies the instance).
    pub socket: PathBuf,
    pub default_ds: DefaultDataSet,
    pub current_ds: CurrentDataSet,
    pub parent_ds: ParentDataSet,
    pub time_properties_ds: TimePropertiesDataSet,
    pub time_status: TimeStatusNp,
    /// Every port, by port number (all `default_ds.number_ports` of them).
    pub ports: Vec<PortReport>,
    /// Datagrams received and thrown away: answers to another collection,
    /// duplicates, undecodable ones.
    pub discarded: u32,
}

/// One port: its dataset and, where ptp4l answered PORT_PROPERTIES_NP, its
/// interface and timestamping.
#[derive(Debug, Clone, PartialEq)]
pub struct PortReport {
    pub data_set: PortDataSet,
    pub properties: Option<PortPropertiesNp>,
}

impl PortReport {
    pub fn number(&self) -> u16 {
        self.data_set.port_identity.port_number
    }

    pub fn state(&self) -> PortState {
        self.data_set.port_state
    }

    /// The network interface, e.g. `eth0` (from PORT_PROPERTIES_NP).
    pub fn interface(&self) -> Option<&str> {
        self.properties.as_ref().map(|p| p.interface.as_str())
    }
}

impl PtpReport {
    /// The port the clock is synchronised through, if any.
    pub fn slave_port(&self) -> Option<&PortReport> {
        self.ports.iter().find(|p| p.state() == PortState::Slave)
    }

    /// True when this clock is its own grandmaster (it serves time, it
    /// follows none).
    pub fn is_grandmaster(&self) -> bool {
        self.parent_ds.grandmaster_identity == self.default_ds.clock_identity
    }
}
