//! Big-endian field codecs shared by requests and replies: a bounds-checked
//! reader that returns errors instead of panicking, and a writer.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::DecodeError;
use crate::float;
use crate::types::{Address, Timespec};

/// Size of chrony's `IPAddr` on the wire: 16 address bytes, family, padding.
pub const ADDRESS_LEN: usize = 20;
/// Size of chrony's `Timespec` on the wire.
pub const TIMESPEC_LEN: usize = 12;

const FAMILY_UNSPEC: u16 = 0;
const FAMILY_INET4: u16 = 1;
const FAMILY_INET6: u16 = 2;
const FAMILY_ID: u16 = 3;

/// `tv_sec_high` value chronyd sends when it has only 32-bit seconds.
const TV_NOHIGHSEC: u32 = 0x7fff_ffff;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn bytes<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let end = self.pos + N;
        let slice = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated {
            needed: end,
            available: self.buf.len(),
        })?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes::<1>()?[0])
    }

    pub(crate) fn i8(&mut self) -> Result<i8, DecodeError> {
        Ok(i8::from_be_bytes(self.bytes()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.bytes()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.bytes()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.bytes()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.bytes()?))
    }

    /// chrony's `Integer64`: high word, then low word.
    pub(crate) fn u64_split(&mut self) -> Result<u64, DecodeError> {
        let high = u64::from(self.u32()?);
        let low = u64::from(self.u32()?);
        Ok(high << 32 | low)
    }

    pub(crate) fn float(&mut self) -> Result<f64, DecodeError> {
        Ok(float::decode(self.u32()?))
    }

    pub(crate) fn timespec(&mut self) -> Result<Timespec, DecodeError> {
        let high = self.u32()?;
        let low = self.u32()?;
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return Err(DecodeError::BadTimespec { nanos });
        }
        let seconds = if high == TV_NOHIGHSEC {
            u64::from(low)
        } else {
            u64::from(high) << 32 | u64::from(low)
        };
        Ok(Timespec { seconds, nanos })
    }

    pub(crate) fn address(&mut self) -> Result<Address, DecodeError> {
        let raw: [u8; 16] = self.bytes()?;
        let family = self.u16()?;
        let _pad = self.u16()?;
        let first4 = [raw[0], raw[1], raw[2], raw[3]];
        match family {
            FAMILY_UNSPEC => Ok(Address::Unspecified),
            FAMILY_INET4 => Ok(Address::V4(Ipv4Addr::from(first4))),
            FAMILY_INET6 => Ok(Address::V6(Ipv6Addr::from(raw))),
            FAMILY_ID => Ok(Address::Id(u32::from_be_bytes(first4))),
            other => Err(DecodeError::BadAddressFamily(other)),
        }
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        let end = self.pos + n;
        if end > self.buf.len() {
            return Err(DecodeError::Truncated {
                needed: end,
                available: self.buf.len(),
            });
        }
        self.pos = end;
        Ok(())
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn u64_split(&mut self, v: u64) {
        self.u32((v >> 32) as u32);
        self.u32(v as u32);
    }

    pub(crate) fn float(&mut self, v: f64) {
        self.u32(float::encode(v));
    }

    pub(crate) fn timespec(&mut self, t: Timespec) {
        let high = (t.seconds >> 32) as u32;
        // chronyd marks 32-bit seconds with TV_NOHIGHSEC; a zero high word
        // means the same, and is what a 64-bit chronyd sends today.
        self.u32(high);
        self.u32(t.seconds as u32);
        self.u32(t.nanos);
    }

    pub(crate) fn address(&mut self, a: Address) {
        let mut raw = [0u8; 16];
        let family = match a {
            Address::Unspecified => FAMILY_UNSPEC,
            Address::V4(ip) => {
                raw[..4].copy_from_slice(&ip.octets());
                FAMILY_INET4
            }
            Address::V6(ip) => {
                raw = ip.octets();
                FAMILY_INET6
            }
            Address::Id(id) => {
                raw[..4].copy_from_slice(&id.to_be_bytes());
                FAMILY_ID
            }
        };
        self.buf.extend_from_slice(&raw);
        self.u16(family);
        self.u16(0);
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    pub(crate) fn ones(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0xff);
    }

    pub(crate) fn pad_to(&mut self, len: usize) {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}
