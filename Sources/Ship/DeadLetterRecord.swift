import Pipeline
import JSON

/// One line of a dead-letter file: a line or event that will not reach the API as it is.
///
/// ```json
/// {"time":"2026-11-24T19:00:00.123Z","reason":"HTTP 400: event rejected by the Track API",
///  "rule":"signups","status":400,"response":"{\"error\":\"bad user_id\"}","source":"/var/log/app.log",
///  "start":1024,"end":1180,"line":"…","event":{…}}
/// ```
///
/// | key | present | holds |
/// | --- | --- | --- |
/// | `time` | always | when it was written, UTC with milliseconds |
/// | `reason` | always | why (mapper rejection, HTTP status, oversized event) |
/// | `rule` | always | the rule that mapped the line (or took it and failed); `null` when no rule did (not JSON, no rule matched) |
/// | `status` | API rejections | the HTTP status |
/// | `response` | API rejections | the response body, the token and `Authorization` values redacted, cut to 4 KiB and then ending in `… [cut: N bytes in all]` |
/// | `source`, `start`, `end` | always | the file and the line's byte range in it |
/// | `line` | mapper rejections | the original line (its head for very long lines) |
/// | `event` | API rejections, oversized events | the mapped event, as sent |
///
/// For events the API rejected the shipper has the mapped event, not the original line (the
/// line's bytes are released once mapped; the source range lets an operator find it). `replay`
/// resends `event` when there is one and re-maps `line` otherwise. Never holds the token: no
/// request header is ever recorded, and a response that echoes one is redacted
/// (`DeadLetterRedaction`) before it is written.
public struct DeadLetterRecord: Sendable, Equatable {
    /// Wall-clock nanoseconds since the epoch (written with millisecond precision).
    public var time: Int64
    public var reason: String
    /// The rule that mapped the line, or took it and failed; `nil` when none did.
    public var rule: String?
    public var status: Int?
    public var response: String?
    public var source: String
    public var start: Int64
    public var end: Int64
    public var line: String?
    /// The mapped event's JSON text, verbatim.
    public var event: [UInt8]?

    public init(time: Int64, reason: String, status: Int? = nil, response: String? = nil, source: String,
                start: Int64, end: Int64, line: String? = nil, event: [UInt8]? = nil, rule: String? = nil) {
        self.time = time
        self.reason = reason
        self.rule = rule
        self.status = status
        self.response = response
        self.source = source
        self.start = start
        self.end = end
        self.line = line
        self.event = event
    }

    /// The record as one NDJSON line, newline included.
    public func serialized(into out: inout [UInt8]) {
        var w = JSONWriter()
        swap(&w.bytes, &out)
        w.beginObject()
        w.key("time")
        w.string(Timestamp(epochNanoseconds: time).description)
        w.key("reason")
        w.string(reason)
        w.key("rule")
        if let rule { w.string(rule) } else { w.null() }
        if let status {
            w.key("status")
            w.int(Int64(status))
        }
        if let response {
            w.key("response")
            w.string(response)
        }
        w.key("source")
        w.string(source)
        w.key("start")
        w.int(start)
        w.key("end")
        w.int(end)
        if let line {
            w.key("line")
            w.string(line)
        }
        if let event {
            w.key("event")
            w.raw(event)
        }
        w.endObject()
        swap(&w.bytes, &out)
        out.append(0x0A)
    }

    /// Text of bytes that may not be valid UTF-8 (a line head cut mid-character, a binary body),
    /// cut to `limit` bytes; invalid sequences become U+FFFD.
    public static func text(_ bytes: some Collection<UInt8>, limit: Int = .max) -> String {
        String(decoding: bytes.prefix(limit), as: UTF8.self)
    }
}
