//! Pod IPs: addresses of 127/8, which Linux routes to the loopback interface. An address is
//! given to one pod at a time in this process, and only when every port the pod declares is
//! free on it (another process's fake cluster may use it).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

/// The addresses held by a pod of any fake cluster of this process, and where the next search
/// starts: after the last address given, so that tens of thousands of pods do not each walk
/// past all the addresses held before theirs.
struct Held {
    ips: BTreeSet<u32>,
    next: Option<u32>,
}

static HELD: Mutex<Held> = Mutex::new(Held {
    ips: BTreeSet::new(),
    next: None,
});

/// 127.0.0.2 up to 127.255.255.254, leaving out each /24's first and last.
const FIRST: u32 = 0x7f00_0002;
const SPAN: u32 = 0x00ff_fffc;

/// How many candidates a search tries before it gives up.
const TRIES: usize = 10_000;

#[derive(Clone, Debug, Default)]
pub(crate) struct Ips;

impl Ips {
    /// A free address for a pod declaring `ports`; processes start at different places so
    /// that parallel test processes rarely try the same ones.
    pub(crate) fn allocate(&self, ports: &[u16]) -> Option<Ipv4Addr> {
        let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
        let start = held
            .next
            .unwrap_or_else(|| std::process::id().wrapping_mul(4099) % SPAN);
        let (offset, ip) = (0..SPAN)
            .map(|n| (start + n) % SPAN)
            .map(|offset| (offset, FIRST + offset))
            .filter(|(_, ip)| !matches!(ip & 0xff, 0 | 255 | 1))
            .take(TRIES)
            .find(|(_, ip)| !held.ips.contains(ip) && ports_free(Ipv4Addr::from(*ip), ports))?;
        held.ips.insert(ip);
        held.next = Some((offset + 1) % SPAN);
        Some(Ipv4Addr::from(ip))
    }

    pub(crate) fn release(&self, ip: Ipv4Addr) {
        HELD.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ips
            .remove(&u32::from(ip));
    }
}

fn ports_free(ip: Ipv4Addr, ports: &[u16]) -> bool {
    ports
        .iter()
        .all(|port| TcpListener::bind((ip, *port)).is_ok())
}
