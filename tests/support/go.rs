//! Small verifiers written in Go against Go's own packages (`tests/go/<name>`), built once per
//! test run, offline, in GOPATH mode against the sources Debian ships in /usr/share/gocode
//! (`golang-golang-x-mod-dev`): an implementation that shares nothing with the hub's.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

static BUILD: Mutex<()> = Mutex::new(());

/// The built verifier `tests/go/<name>`.
pub fn go_tool(name: &str) -> PathBuf {
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = root.join("../target/go");
    let bin = out_dir.join(name);
    let src = root.join("go").join(name);
    let fresh = |p: &PathBuf| p.metadata().and_then(|m| m.modified()).ok();
    let newest_src = std::fs::read_dir(&src)
        .unwrap()
        .filter_map(|e| fresh(&e.ok()?.path()))
        .max();
    if fresh(&bin).is_some() && fresh(&bin) >= newest_src {
        return bin;
    }
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", out_dir.join("cache"))
        .env("GOFLAGS", "")
        .output()
        .expect("go is installed (scripts/install-peers.sh installs golang-go)");
    assert!(
        out.status.success(),
        "go build {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}
