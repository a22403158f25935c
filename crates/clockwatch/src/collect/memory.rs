//! What one collection remembers for the next: how many sources chronyd had,
//! which addresses they had, and the names they were configured with.
//!
//! A node's source list almost never changes between scrapes, so the next
//! collection can ask for every per-source record in its first round trip
//! instead of learning the list first. Every reply names the source it is
//! about, so a wrong guess costs a few refused requests and one more round
//! trip, never a wrong value.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cmdmon::{Address, SourceMode};

/// How long a learnt name is trusted before it is asked again. A name only
/// changes when chronyd is reconfigured.
const NAME_TTL: Duration = Duration::from_secs(600);

/// The source list as the last successful collection saw it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SourceGuess {
    /// chronyd's source count, unresolved sources included: the range of
    /// indices for source_data and sourcestats.
    pub count: u32,
    /// The resolved sources' addresses and modes.
    pub sources: Vec<(Address, SourceMode)>,
}

#[derive(Debug, Default)]
pub(crate) struct SourceMemory {
    guess: Mutex<SourceGuess>,
    /// Configured names by address, with when they were learnt.
    names: Mutex<HashMap<Address, (String, Instant)>>,
}

impl SourceMemory {
    pub fn guess(&self) -> SourceGuess {
        self.guess.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn remember(&self, guess: SourceGuess) {
        let now = Instant::now();
        // Forget names of sources that are gone, and names grown old.
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|addr, (_, at)| {
                now.duration_since(*at) < NAME_TTL && guess.sources.iter().any(|(a, _)| a == addr)
            });
        *self.guess.lock().unwrap_or_else(|p| p.into_inner()) = guess;
    }

    /// The name learnt for `address`, if it is still fresh.
    pub fn name(&self, address: &Address) -> Option<String> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        names
            .get(address)
            .filter(|(_, at)| at.elapsed() < NAME_TTL)
            .map(|(name, _)| name.clone())
    }

    pub fn learn_name(&self, address: Address, name: String) {
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(address, (name, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(last: u8) -> Address {
        Address::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn names_of_sources_that_left_the_list_are_forgotten() {
        let memory = SourceMemory::default();
        memory.learn_name(v4(1), "a.example".into());
        memory.learn_name(v4(2), "b.example".into());
        memory.remember(SourceGuess {
            count: 1,
            sources: vec![(v4(2), SourceMode::Client)],
        });
        assert_eq!(memory.name(&v4(1)), None);
        assert_eq!(memory.name(&v4(2)).as_deref(), Some("b.example"));
        assert_eq!(memory.guess().count, 1);
    }
}
