import Foundation
import Posix
import Tail
import Testing

func makeTempDirectory(_ tag: String = #function) -> String {
    let base = FileManager.default.temporaryDirectory.path
    let name = tag.filter { $0.isLetter || $0.isNumber }
    let dir = "\(base)/tailtests-\(name)-\(UUID().uuidString.prefix(8))"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

let sampleEntries = [
    CheckpointEntry(input: "app", path: "/var/log/app \"quoted\"\\.log", identity: FileIdentity(device: 2049, inode: UInt64.max - 1),
                    fingerprint: Fingerprint(length: 256, hash: 0xDEAD_BEEF_0000_0001), offset: 123_456_789_012,
                    tailLength: 64, tailHash: UInt64.max, key: 0x0123_4567_89AB_CDEF, updated: 1_732_400_000_000_000_000),
    CheckpointEntry(input: "ünïcode", path: "/tmp/a\tb", identity: FileIdentity(device: 0, inode: 1),
                    fingerprint: Fingerprint(length: 3, hash: 0), offset: 0, tailLength: 0, tailHash: 5, key: 0, updated: 0),
]

@Test func checkpointRoundTrip() throws {
    let bytes = CheckpointFile.encode(sampleEntries)
    #expect(try CheckpointFile.decode(bytes) == sampleEntries)
    #expect(try CheckpointFile.decode(CheckpointFile.encode([])) == [])
}

@Test(arguments: [
    ("", "byte 0: empty input"),
    ("[]", "top level is not an object"),
    ("{\"version\":1}", "missing \"entries\" array"),
    ("{\"version\":1,\"entries\":{}}", "missing \"entries\" array"),
    ("{\"version\":1,\"entries\":[1]}", "entries[0] is not an object"),
    ("{\"version\":1,\"entries\":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}", "nesting deeper than 16"),
    ("{\"version\":3,\"entries\":[]}", "unsupported version 3 (this build reads 1 and 2)"),
    ("{\"entries\":[]}", "version"),
    ("{\"version\":1,\"entries\":[{}]}", "entries[0]"),
    ("{\"version\":1,\"entries\":[]", "byte"),
    ("{\"version\":1,\"entries\":[]} x", "byte 27: expected end of input after the JSON value, found 'x'"),
    ("\u{0}\u{0}\u{0}", "byte 0: expected a value, found byte 0x00"),
    ("{\"version\":1,\"entries\":[{\"input\":\"a\",\"path\":\"p\",\"device\":1,\"inode\":2,\"fingerprint\":{\"length\":1,\"hash\":\"zz\"}}]}", "fingerprint.hash"),
])
func checkpointCorruptIsReported(_ c: (String, String)) {
    do {
        _ = try CheckpointFile.decode(Array(c.0.utf8))
        Issue.record("decoded corrupt input")
    } catch {
        #expect("\(error)".contains(c.1), "\(error)")
    }
}

/// `sampleEntries` exactly as the first release (with its own JSON writer) wrote them: files on disk
/// from before the JSON module must still load. It escaped control characters as `\u00XX`; the JSON
/// module writes the short forms (`\t`), the only byte that differs.
let oldFormatDocument = #"""
{"version":1,"entries":[
 {"input":"app","path":"/var/log/app \"quoted\"\\.log","device":2049,"inode":18446744073709551614,"fingerprint":{"length":256,"hash":"deadbeef00000001"},"offset":123456789012,"tail":{"length":64,"hash":"ffffffffffffffff"},"key":"0123456789abcdef","updated":1732400000000000000},
 {"input":"ünïcode","path":"/tmp/a\u0009b","device":0,"inode":1,"fingerprint":{"length":3,"hash":"0000000000000000"},"offset":0,"tail":{"length":0,"hash":"0000000000000005"},"key":"0000000000000000","updated":0}
]}
"""# + "\n"

@Test func checkpointReadsOldFormatAndWritesTheSameLayout() throws {
    #expect(try CheckpointFile.decode(Array(oldFormatDocument.utf8)) == sampleEntries)
    let written = String(decoding: CheckpointFile.encode(sampleEntries), as: UTF8.self)
    #expect(written == oldFormatDocument.replacingOccurrences(of: #"\u0009"#, with: #"\t"#))
    #expect(String(decoding: CheckpointFile.encode([]), as: UTF8.self) == "{\"version\":1,\"entries\":[\n]}\n")
}

/// One entry object with `field` set to the JSON text `json` (removed when `json` is empty).
func entryObject(_ field: String = "", _ json: String = "") -> String {
    var fields: [(String, String)] = [
        ("input", "\"app\""), ("path", "\"/p\""), ("device", "1"), ("inode", "2"),
        ("fingerprint", "{\"length\":1,\"hash\":\"00000000000000ff\"}"), ("offset", "10"),
        ("tail", "{\"length\":1,\"hash\":\"0000000000000001\"}"), ("key", "\"0000000000000002\""), ("updated", "3"),
    ]
    if let k = fields.firstIndex(where: { $0.0 == field }) {
        if json.isEmpty { fields.remove(at: k) } else { fields[k].1 = json }
    }
    return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

/// A checkpoint document whose entry number `index` has `field` replaced, after `index` valid ones.
func entryDocument(_ field: String, _ json: String, index: Int = 2) -> String {
    let entries = Array(repeating: entryObject(), count: index) + [entryObject(field, json)]
    return "{\"version\":1,\"entries\":[" + entries.joined(separator: ",") + "]}"
}

@Test func checkpointEntryDocumentIsValidAsBuilt() throws {
    let entries = try CheckpointFile.decode(Array(entryDocument("none", "").utf8))
    #expect(entries.count == 3)
    #expect(entries[2] == CheckpointEntry(input: "app", path: "/p", identity: FileIdentity(device: 1, inode: 2),
                                          fingerprint: Fingerprint(length: 1, hash: 0xFF), offset: 10,
                                          tailLength: 1, tailHash: 1, key: 2, updated: 3))
}

@Test(arguments: [
    ("offset", "-1", "entries[2].offset: negative"),
    ("offset", "1.5", "entries[2].offset: missing or not an integer"),
    ("offset", "1e3", "entries[2].offset: missing or not an integer"),
    ("offset", "9223372036854775808", "entries[2].offset: missing or not an integer"),
    ("offset", "\"10\"", "entries[2].offset: missing or not an integer"),
    ("offset", "", "entries[2].offset: missing or not an integer"),
    ("updated", "null", "entries[2].updated: missing or not an integer"),
    ("device", "-1", "entries[2].device: missing or not an unsigned integer"),
    ("device", "18446744073709551616", "entries[2].device: missing or not an unsigned integer"),
    ("inode", "2.0", "entries[2].inode: missing or not an unsigned integer"),
    ("inode", "true", "entries[2].inode: missing or not an unsigned integer"),
    ("input", "1", "entries[2].input: missing or not a string"),
    ("path", "", "entries[2].path: missing or not a string"),
    ("key", "\"xyz\"", "entries[2].key: not hex"),
    ("key", "7", "entries[2].key: missing or not a string"),
    ("fingerprint", "[]", "entries[2].fingerprint: missing or not an object"),
    ("fingerprint", "{\"length\":1}", "entries[2].fingerprint.hash: missing or not hex"),
    ("fingerprint", "{\"hash\":\"00\"}", "entries[2].fingerprint.length: missing or not an integer"),
    ("tail", "{\"length\":-4,\"hash\":\"00\"}", "entries[2].tail.length: negative"),
    ("tail", "{\"length\":4,\"hash\":\"10000000000000000\"}", "entries[2].tail.hash: missing or not hex"),
    ("tail", "", "entries[2].tail: missing or not an object"),
])
func checkpointBadFieldIsNamed(_ c: (String, String, String)) {
    do {
        _ = try CheckpointFile.decode(Array(entryDocument(c.0, c.1).utf8))
        Issue.record("decoded a bad \(c.0)")
    } catch {
        #expect("\(error)" == "checkpoints.json: \(c.2)")
    }
}

@Test func checkpointInvalidUTF8IsReported() {
    let bytes = Array("{\"version\":1,\"entries\":[{\"input\":\"".utf8) + [0xFF] + Array("\"}]}".utf8)
    do {
        _ = try CheckpointFile.decode(bytes)
        Issue.record("decoded invalid UTF-8")
    } catch {
        #expect("\(error)" == "checkpoints.json: byte 34: invalid UTF-8 byte 0xFF")
    }
}

@Test func checkpointDeviceAndInodeKeepAllSixtyFourBits() throws {
    let entries = try CheckpointFile.decode(Array(entryDocument("inode", "18446744073709551615", index: 0).utf8))
    #expect(entries.first?.identity.inode == UInt64.max)
    var e = sampleEntries[0]
    e.identity = FileIdentity(device: UInt64.max, inode: UInt64(Int64.max) + 1)
    #expect(try CheckpointFile.decode(CheckpointFile.encode([e])) == [e])
}

@Test func checkpointTruncatedOrDamagedNeverDecodesWrongly() {
    let good = CheckpointFile.encode(sampleEntries)
    // Every cut before the closing brace is an error (the final newline alone is optional).
    for n in 0..<(good.count - 1) {
        #expect(throws: CheckpointFileError.self) { try CheckpointFile.decode(Array(good[..<n])) }
    }
    // Any single damaged byte either throws or still decodes (e.g. a digit changed); it never traps.
    for n in stride(from: 0, to: good.count, by: 3) {
        for b: UInt8 in [0x00, 0x22, 0x7B, 0x5D, 0xFF] {
            var bad = good
            bad[n] = b
            _ = try? CheckpointFile.decode(bad)
        }
    }
}

@Test func checkpointFallsBackToPrevious() throws {
    let dir = makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(try CheckpointFile.read(stateDirectory: dir) == [])
    try CheckpointFile.write([sampleEntries[0]], stateDirectory: dir)
    try CheckpointFile.write(sampleEntries, stateDirectory: dir)
    #expect(try CheckpointFile.read(stateDirectory: dir) == sampleEntries)
    // Corrupt the current copy: the previous one is used and the problem reported.
    try Data("{\"version\":1,\"entr".utf8).write(to: URL(fileURLWithPath: CheckpointFile.path(stateDirectory: dir)))
    let loaded = CheckpointFile.load(stateDirectory: dir)
    #expect(loaded.entries == [sampleEntries[0]])
    #expect(loaded.usedPath == CheckpointFile.previousPath(stateDirectory: dir))
    #expect(loaded.problems.count == 1)
    // Both corrupt: an error, never an empty list.
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: CheckpointFile.previousPath(stateDirectory: dir)))
    #expect(throws: CheckpointFileError.self) { try CheckpointFile.read(stateDirectory: dir) }
}

@Test func stateDirectoryLockRefusesSecond() throws {
    let dir = makeTempDirectory()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let first = try StateDirectoryLock(stateDirectory: dir + "/state")
    do {
        _ = try StateDirectoryLock(stateDirectory: dir + "/state")
        Issue.record("second lock taken")
    } catch let busy as StateDirectoryLock.Busy {
        #expect(busy.description.contains(dir + "/state"))
        #expect(busy.ownerPID == ProcessInfo.processInfo.processIdentifier)
    }
    first.release()
    let again = try StateDirectoryLock(stateDirectory: dir + "/state")
    again.release()
}
