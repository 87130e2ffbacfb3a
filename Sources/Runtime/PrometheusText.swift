/// A writer for the Prometheus text exposition format (version 0.0.4), the format every
/// scraper understands, without a metrics library.
///
/// One family at a time: `family(…)` writes the `# HELP` and `# TYPE` lines, then `sample(…)`
/// writes one line per label set. `counter`, `gauge` and `histogram` do both for the common
/// shapes.
///
/// | input | written as |
/// |---|---|
/// | `Int` 42 | `42` |
/// | `Double` 0.25, 1e-05, ∞, NaN | `0.25`, `1e-05`, `+Inf`, `NaN` |
/// | label value `a"b\c` + newline | `"a\"b\\c\n"` |
/// | help text `a\b` + newline | `a\\b\n` |
///
/// Names are written as given: callers use fixed, valid names (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
public struct PrometheusText: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram, summary, untyped }

    /// The exposition so far.
    public private(set) var text = ""

    public init(reservingCapacity capacity: Int = 4096) {
        text.reserveCapacity(capacity)
    }

    /// The `Content-Type` a scraper expects for this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `# HELP name help` and `# TYPE name kind`.
    public mutating func family(_ name: String, _ kind: Kind, help: String) {
        text += "# HELP "
        text += name
        text += " "
        text += PrometheusText.escape(help, quote: false)
        text += "\n# TYPE "
        text += name
        text += " "
        text += kind.rawValue
        text += "\n"
    }

    /// `name{k="v",…} value`.
    public mutating func sample(_ name: String, labels: KeyValuePairs<String, String> = [:], _ value: Int) {
        sampleStart(name, labels)
        text += String(value)
        text += "\n"
    }

    public mutating func sample(_ name: String, labels: KeyValuePairs<String, String> = [:], _ value: Double) {
        sampleStart(name, labels)
        text += PrometheusText.format(value)
        text += "\n"
    }

    /// A counter family with one unlabelled sample.
    public mutating func counter(_ name: String, help: String, _ value: Int) {
        family(name, .counter, help: help)
        sample(name, value)
    }

    /// A gauge family with one unlabelled sample.
    public mutating func gauge(_ name: String, help: String, _ value: Int) {
        family(name, .gauge, help: help)
        sample(name, value)
    }

    public mutating func gauge(_ name: String, help: String, _ value: Double) {
        family(name, .gauge, help: help)
        sample(name, value)
    }

    /// A histogram family: one `_bucket` per upper bound with the CUMULATIVE count of
    /// observations ≤ that bound, the `+Inf` bucket (= `count`), then `_sum` and `_count`.
    /// `buckets` are (upper bound, observations in that bucket only), in increasing order; the
    /// cumulation happens here so callers keep plain per-bucket counts.
    public mutating func histogram(_ name: String, help: String, buckets: [(upperBound: Double, count: Int)], sum: Double, count: Int) {
        family(name, .histogram, help: help)
        let bucket = name + "_bucket"
        var cumulative = 0
        for b in buckets {
            cumulative += b.count
            sample(bucket, labels: ["le": PrometheusText.format(b.upperBound)], cumulative)
        }
        sample(bucket, labels: ["le": "+Inf"], count)
        sample(name + "_sum", sum)
        sample(name + "_count", count)
    }

    private mutating func sampleStart(_ name: String, _ labels: KeyValuePairs<String, String>) {
        text += name
        if !labels.isEmpty {
            text += "{"
            var first = true
            for (k, v) in labels {
                if !first { text += "," }
                first = false
                text += k
                text += "=\""
                text += PrometheusText.escape(v, quote: true)
                text += "\""
            }
            text += "}"
        }
        text += " "
    }

    /// Label values escape `\`, `"` and newline; help text escapes `\` and newline only.
    public static func escape(_ s: String, quote: Bool) -> String {
        var needs = false
        for b in s.utf8 where b == UInt8(ascii: "\\") || b == UInt8(ascii: "\n") || (quote && b == UInt8(ascii: "\"")) {
            needs = true
            break
        }
        guard needs else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quote: out += "\\\""
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Go's `ParseFloat` reads all of these: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    public static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return v.description
    }
}
