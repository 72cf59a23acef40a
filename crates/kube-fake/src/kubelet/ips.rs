//! Pod IPs: addresses of 127/8, which Linux routes to the loopback interface. An address is
//! given to one pod at a time in this process, and only when every port the pod declares is
//! free on it (another process's fake cluster may use it).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

/// Addresses held by a pod of any fake cluster of this process.
static HELD: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// 127.0.0.2 up to 127.255.255.254, leaving out each /24's first and last.
const FIRST: u32 = 0x7f00_0002;
const SPAN: u32 = 0x00ff_fffc;

#[derive(Clone, Debug, Default)]
pub(crate) struct Ips;

impl Ips {
    /// A free address for a pod declaring `ports`; processes start at different places so
    /// that parallel test processes rarely try the same ones.
    pub(crate) fn allocate(&self, ports: &[u16]) -> Option<Ipv4Addr> {
        let start = std::process::id().wrapping_mul(4099) % SPAN;
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        (0..SPAN)
            .map(|n| FIRST + (start + n) % SPAN)
            .filter(|ip| !matches!(ip & 0xff, 0 | 255 | 1))
            .take(10_000)
            .find(|ip| !held.contains(ip) && ports_free(Ipv4Addr::from(*ip), ports))
            .inspect(|ip| {
                held.insert(*ip);
            })
            .map(Ipv4Addr::from)
    }

    pub(crate) fn release(&self, ip: Ipv4Addr) {
        HELD.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&u32::from(ip));
    }
}

fn ports_free(ip: Ipv4Addr, ports: &[u16]) -> bool {
    ports
        .iter()
        .all(|port| TcpListener::bind((ip, *port)).is_ok())
}
