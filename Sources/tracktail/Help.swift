/// The `--help` texts. Kept next to each other so they read as one manual.
enum Help {
    /// The one version number: `--version`, the User-Agent, and the Debian package (the Makefile reads this line).
    static let version = "0.1.0"

    static let main = """
    tracktail \(version) — ship product-analytics events from NDJSON logs to ThriveStack

    tracktail tails log files (or a named pipe) in which an application writes one JSON object
    per line, maps each line to a ThriveStack track event through the [[rule]] tables of its
    configuration, and sends the events in batches to the Track API. A checkpoint file makes sure
    nothing is lost across crashes, restarts, log rotation and API outages.

    USAGE
      tracktail <command> [options]

    COMMANDS
      run       run the daemon: tail the inputs and ship events (--once: ship what is there, then exit)
      check     validate a configuration and print what it resolves to
      map       show what each log line becomes (or why it is rejected); sends nothing
      status    show per-file checkpoints, lag and dead-letter counts (works while the daemon runs)
      replay    re-map and send the lines of a dead-letter file after fixing a rule
      help      show help for a command (tracktail help map)

    COMMON OPTIONS
      -c, --config FILE   configuration file (default: /etc/tracktail/tracktail.toml)
      -h, --help          show help
      -V, --version       show the version

    EXIT CODES (sysexits)
      0 ok · 1 map rejected a line, replay refused or rejected again · 64 usage · 65 bad data ·
      66 input missing (run --once: an input had nothing readable) · 69 API refused
      the configuration or [metrics] port in use · 70 internal error · 73 cannot create state · 74 I/O error ·
      75 state directory locked by another instance · 78 invalid configuration

    """

    static let run = """
    tracktail run — tail the configured inputs and ship their events

    USAGE
      tracktail run [--config FILE] [--once] [--log-level LEVEL]

    OPTIONS
      -c, --config FILE     configuration file (default: /etc/tracktail/tracktail.toml)
      --once                read every input to its current end, ship it all, write the checkpoint
                            and exit (backfills; exit 0 when everything was delivered or dead-lettered,
                            66 when an input had nothing readable)
      --log-level LEVEL     debug, info, notice, warning or error (overrides [log] level)

    An input that matches no file, whose directory is missing or whose files this user may not
    read is warned about at start and every 5 minutes while it lasts, and /health is degraded.

    SIGNALS
      SIGTERM, SIGINT   stop reading, drain in-flight batches (output.drain_timeout), write the checkpoint, exit
      SIGHUP            re-read the configuration (an invalid one is reported and the old one kept),
                        and retry at once anything the API held back (401/403/404)

    Under systemd (Type=notify) it reports READY=1, STATUS= and WATCHDOG=1 over $NOTIFY_SOCKET.

    """

    static let check = """
    tracktail check — validate a configuration

    USAGE
      tracktail check [--config FILE]

    Prints the resolved configuration with every default filled in (secrets redacted); on stderr,
    per input pattern what it matches now and whether this user may read it; and warns when a rule
    maps a ThriveStack catalogue event (user_waitlisted, invite_sent, feature_used) without its
    documented properties, or when output.url's path is not /api/track. Every error is listed at
    once (up to 20, in file order) as file:line:column: key.path: message. A token that cannot be
    read is a warning; a token with a control character inside (CR, LF, NUL) is an error.
    Exit 0 when valid, 78 when not.

    """

    static let map = """
    tracktail map — show what log lines become, sending nothing

    USAGE
      tracktail map [--config FILE] [--json] [LOGFILE]

    Reads NDJSON from LOGFILE (or standard input) and prints, for each line, its number and the
    event payload it maps to, or the reason it was dropped or rejected, then a summary.

    OPTIONS
      --json     exactly one JSON object per input line on stdout:
                   {"line": N, "event": {...}}          mapped
                   {"line": N, "dropped": "rule name"}  dropped on purpose
                   {"line": N, "error": "reason"}       rejected (would go to the dead letter)
                 the summary goes to stderr
      --now ISO  the read time used for rules with timestamp_missing = "read_time"
                 (default: now; for reproducible output)

    Exit 0 when no line was rejected, 1 when some were.

    """

    static let status = """
    tracktail status — per-file progress, read from the state directory

    USAGE
      tracktail status [--config FILE] [--json]

    For each file in the checkpoint: path, identity (device:inode), checkpointed offset, current
    size and lag in bytes; inputs with nothing readable and files this user cannot read; then the
    dead-letter record count and how many are not yet replayed. Reads only the state directory and
    the inputs' directories, so it works while the daemon runs.

    """

    static let replay = """
    tracktail replay — send dead-lettered lines again

    USAGE
      tracktail replay [--config FILE] [--dry-run] [--force] DEADLETTER

    Re-maps each record of a dead-letter file with the current rules (after a rule was fixed) and
    sends the events with the configured output; events the API refused are sent as they were.
    Reports what went and what was rejected again; rejected records are written to a new
    dead-letter file, never lost.

    The file is then marked as replayed (a DEADLETTER.<inode>.replayed file next to it): a second
    replay refuses (exit 1), and records appended since are replayed alone.

    OPTIONS
      --dry-run   print the payloads and how many lines would be re-mapped and events re-sent;
                  send nothing
      --force     replay records that were replayed already (their events are sent twice)

    """
}
