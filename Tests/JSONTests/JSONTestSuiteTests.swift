import JSON
import Testing

@Suite struct JSONTestSuiteTests {
    @Test func corpusIsPresent() {
        #expect(Corpus.files(prefix: "y_").count > 90)
        #expect(Corpus.files(prefix: "n_").count > 180)
        #expect(Corpus.files(prefix: "i_").count > 30)
    }

    @Test(arguments: Corpus.files(prefix: "y_"))
    func accepts(_ name: String) {
        var doc = JSONDocument()
        #expect(throws: Never.self, "\(name)") { try doc.parse(Corpus.bytes(name)) }
    }

    @Test(arguments: Corpus.files(prefix: "n_"))
    func rejects(_ name: String) {
        var doc = JSONDocument()
        #expect(throws: JSONError.self, "\(name)") { try doc.parse(Corpus.bytes(name)) }
    }

    @Test func printImplementationDefined() {
        for name in Corpus.files(prefix: "i_") {
            var doc = JSONDocument()
            do {
                try doc.parse(Corpus.bytes(name))
                print("ACCEPT \(name)")
            } catch {
                print("REJECT \(name) \(error)")
            }
        }
    }
}
