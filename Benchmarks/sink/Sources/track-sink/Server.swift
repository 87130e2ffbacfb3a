import CSink
import Glibc

/// The main thread accepts; every connection gets its own thread (blocking reads, and
/// `--latency-ms` is a plain sleep); one more thread waits for SIGTERM/SIGINT (or the
/// `--max-seconds` safety net), writes the final stats and the arrivals, and exits the process.
struct Server {
    let options: Options

    func run() -> Never {
        signal(SIGPIPE, SIG_IGN)
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

        let listener = listenOnLoopback(port: options.port)
        let tally = Tally(options: options)
        let port = boundPort(listener)
        if !options.readyFile.isEmpty {
            writeAtomically(options.readyFile, Array("\(port)\n".utf8))
        }
        complain("listening on http://127.0.0.1:\(port)\(options.path)")
        let signals = stopSignals
        spawnThread { [options] in waitForStop(signals, options: options, tally: tally) }

        while true {
            let fd = accept4(listener, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                complain("accept: errno \(errno)")
                exit(1)
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            tally.locked { tally.connections += 1 }
            spawnThread { Connection(fd: fd, tally: tally).serve() }
        }
    }
}

private func waitForStop(_ stopSignals: sigset_t, options: Options, tally: Tally) -> Never {
    let deadline = options.maxSeconds > 0 ? wallNanos() + Int64(options.maxSeconds * 1e9) : Int64.max
    var signals = stopSignals
    while true {
        var wait = timespec(tv_sec: 0, tv_nsec: 200_000_000)
        let got = sigtimedwait(&signals, nil, &wait)
        if got == SIGTERM || got == SIGINT || wallNanos() >= deadline { break }
    }
    tally.locked {
        tally.writeStats(final: true)
        tally.writeArrivals()
        complain("requests=\(tally.requests) accepted=\(tally.accepted) 503=\(tally.rejected503) "
            + "429=\(tally.rejected429) events=\(tally.events) unique=\(tally.unique) "
            + "duplicates=\(tally.duplicates) lost=\(options.expect - tally.uniqueExpected)")
    }
    exit(0)
}
