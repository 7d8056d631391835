//! Memory measurement shared by the benches that report bytes per process
//! or actor (W4a in `processes.rs`, W4b in `actors.rs`): each peer is
//! measured in a fresh OS process (this bench binary run again with an
//! environment variable naming the peer), by its VmRSS delta.

/// Resident set size of this OS process, in bytes.
pub fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs this bench binary again with `variable=peer` and returns what it
/// printed (its figure), or why it failed.
pub fn figure_of_child(variable: &str, peer: &str) -> String {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .env(variable, peer)
        .output()
        .expect("re-running the bench binary");
    if !output.status.success() {
        return format!(
            "failed ({})",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
