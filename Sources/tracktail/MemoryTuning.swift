import Posix

/// The allocator settings every command runs with, applied first thing in `main`, before any
/// thread exists (see `Malloc` for why one arena).
///
/// | option | default | here | measured (500k-line backlog, peak RSS) |
/// | --- | --- | --- | --- |
/// | `M_ARENA_MAX` | 8 per core | 1 | -0.3 to -0.6 MB with 5% 503; no change clean; CPU within noise |
///
/// Tried and left at glibc's defaults: a fixed `M_MMAP_THRESHOLD`, `M_TRIM_THRESHOLD` or
/// `M_TOP_PAD` (setting any of them turns off glibc's dynamic mmap threshold, so every line
/// batch and request body got a fresh mapping: -1.5 MB, but +50% CPU in page faults).
enum MemoryTuning {
    static let options: [Malloc.Option] = [.arenaMax(1)]

    /// Applies `options`; returns a warning for each one glibc refused (nothing else changes:
    /// the daemon runs with glibc's default for it).
    static func apply() -> [String] {
        Malloc.apply(options).map { "the allocator refused \($0); running with glibc's default" }
    }
}
