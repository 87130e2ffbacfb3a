import Pipeline
/// Parses the three date forms RFC 9110 §5.6.7 makes a recipient accept, for `Retry-After`.
///
/// | form | example |
/// | --- | --- |
/// | IMF-fixdate (the one servers send) | `Sun, 06 Nov 1994 08:49:37 GMT` |
/// | obsolete RFC 850 | `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit year: 70–99 → 19xx, else 20xx) |
/// | obsolete asctime | `Sun Nov  6 08:49:37 1994` |
///
/// The weekday is checked for shape only (senders get it wrong, and the date is what counts).
/// Returns seconds since the epoch, or `nil` for anything else.
public enum HTTPDate {
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    public static func parse(_ text: some StringProtocol) -> Int64? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map { Array($0.utf8) }
        guard let first = words.first, !first.isEmpty else { return nil }
        if first.last == UInt8(ascii: ",") {
            let weekday = first.dropLast()
            guard weekday.count >= 3, weekday.allSatisfy(isLetter) else { return nil }
            if words.count == 6, weekday.count == 3 {
                // IMF-fixdate: 06 Nov 1994 08:49:37 GMT
                guard words[1].count == 2, let day = number(words[1]), let month = month(words[2]),
                      words[3].count == 4, let year = number(words[3]), isGMT(words[5]) else { return nil }
                return seconds(year: year, month: month, day: day, time: words[4])
            }
            if words.count == 4 {
                // RFC 850: 06-Nov-94 08:49:37 GMT
                let d = words[1].split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
                guard d.count == 3, d[0].count == 2, let day = number(d[0]), let month = month(d[1]),
                      d[2].count == 2, let yy = number(d[2]), isGMT(words[3]) else { return nil }
                return seconds(year: yy >= 70 ? 1900 + yy : 2000 + yy, month: month, day: day, time: words[2])
            }
            return nil
        }
        // asctime: Sun Nov  6 08:49:37 1994
        guard words.count == 5, first.count == 3, first.allSatisfy(isLetter), let month = month(words[1]),
              (1...2).contains(words[2].count), let day = number(words[2]),
              words[4].count == 4, let year = number(words[4]) else { return nil }
        return seconds(year: year, month: month, day: day, time: words[3])
    }

    /// `HH:MM:SS` plus a date, validated, as epoch seconds.
    private static func seconds(year: Int, month: Int, day: Int, time: [UInt8]) -> Int64? {
        let t = time.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard t.count == 3, t.allSatisfy({ $0.count == 2 }),
              let h = number(t[0]), let m = number(t[1]), let s = number(t[2]),
              h < 24, m < 60, s <= 60,
              day >= 1, day <= Timestamp.daysIn(month: month, year: Int64(year)) else { return nil }
        let days = Timestamp.days(fromCivil: Int64(year), month, day)
        return days * 86_400 + Int64(h * 3_600 + m * 60 + s)
    }

    private static func isGMT(_ w: [UInt8]) -> Bool { w.elementsEqual("GMT".utf8) }

    private static func isLetter(_ b: UInt8) -> Bool {
        let l = b | 0x20
        return l >= UInt8(ascii: "a") && l <= UInt8(ascii: "z")
    }

    private static func number(_ s: some Collection<UInt8>) -> Int? {
        guard !s.isEmpty, s.count <= 9 else { return nil }
        var v = 0
        for b in s {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            v = v * 10 + Int(b - UInt8(ascii: "0"))
        }
        return v
    }

    private static func month(_ s: some Collection<UInt8>) -> Int? {
        guard s.count == 3 else { return nil }
        let lower = String(decoding: s.map { $0 | 0x20 }, as: UTF8.self)
        return months.firstIndex(of: lower).map { $0 + 1 }
    }
}
