//! What every real peer shares: where the peers are installed (`tests/peers`, by
//! scripts/install-peers.sh), and [`ChildGuard`], which kills a child process by PID and reaps it
//! when dropped.

use std::path::PathBuf;
use std::process::Child;

/// A child process killed (by PID) when dropped.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The directory of the npm peers (`tests/peers`, installed by scripts/install-peers.sh).
pub fn peers_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("peers");
    assert!(
        dir.join("node_modules/openid-client").is_dir(),
        "npm peers missing: run scripts/install-peers.sh (npm ci in tests/peers)"
    );
    dir
}
