import Synchronization
import Testing
@testable import Ship

@Suite struct StdoutTransportTests {
    @Test func writesOneEventPerLineAndSucceeds() throws {
        let written = Mutex<[UInt8]>([])
        let t = StdoutTransport { bytes in written.withLock { $0 += bytes } }
        let body = #"[{"a":"x,]}"},{"b":[1,2,{"c":"\"}"}]} , {"d":1}]"#
        let r = try t.post(Array(body.utf8))
        #expect(r.status == 200)
        #expect(String(decoding: written.withLock { $0 }, as: UTF8.self) ==
            #"{"a":"x,]}"}"# + "\n" + #"{"b":[1,2,{"c":"\"}"}]}"# + "\n" + #"{"d":1}"# + "\n")
        let before = written.withLock { $0.count }
        _ = try t.post(Array("[]".utf8))
        #expect(written.withLock { $0.count } == before)
    }
}

@Suite struct MessageTests {
    @Test(arguments: [(0, "0"), (999, "999"), (1_000, "1,000"), (1_500, "1,500"), (1_234_567, "1,234,567"), (-12_000, "-12,000")])
    func groupsThousands(n: Int, text: String) {
        #expect(grouped(n) == text)
    }
}
