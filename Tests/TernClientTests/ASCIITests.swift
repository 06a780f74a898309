import XCTest

@testable import TernClient

/// `ASCII.equals` compares a word (eight or four bytes) at a time; `HTTP1Fields.knownName` names the
/// fields a head's facts note in one switch. Both stand in for byte-by-byte readings, which they
/// must answer exactly like.
final class ASCIITests: XCTestCase {
    /// The byte-by-byte reading `equals` replaced.
    static func reference(_ text: [UInt8], _ lowercase: [UInt8]) -> Bool {
        text.count == lowercase.count && zip(text, lowercase).allSatisfy { ASCII.lower($0) == $1 }
    }

    func testWordsLowerExactlyTheCapitalsOfEveryByteValue() {
        for value in 0...255 {
            let byte = UInt8(value)
            // The byte in every position of a word, beside bytes that could carry or borrow.
            for filler: UInt8 in [0x00, 0x40, 0x41, 0x5A, 0x5B, 0x7F, 0x80, 0xC1, 0xFF] {
                for position in 0..<8 {
                    var bytes = [UInt8](repeating: filler, count: 8)
                    bytes[position] = byte
                    let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    let lowered = withUnsafeBytes(of: ASCII.lowerBytes(word)) { Array($0) }
                    XCTAssertEqual(lowered, bytes.map(ASCII.lower), "byte \(value) at \(position) beside \(filler)")
                }
            }
        }
    }

    func testNameBytesAreExactlyLettersDigitsAndDashOfEveryByteValue() {
        func isNameByte(_ byte: UInt8) -> Bool {
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x2D
        }
        for value in 0...255 {
            let byte = UInt8(value)
            // The byte in every position of a word, beside bytes that could carry or borrow.
            for filler: UInt8 in [0x00, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x39, 0x3A, 0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0x7F, 0x80, 0xAD, 0xC1, 0xFF] {
                for position in 0..<8 {
                    var bytes = [UInt8](repeating: filler, count: 8)
                    bytes[position] = byte
                    let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                    let marks = withUnsafeBytes(of: ASCII.nameBytes(UInt64(littleEndian: word)).littleEndian) { Array($0) }
                    XCTAssertEqual(marks, bytes.map { isNameByte($0) ? 0x80 : 0 }, "byte \(value) at \(position) beside \(filler)")
                }
            }
        }
    }

    func testEqualsAnswersAsComparingByteByByteDoes() {
        var random = SystemRandomNumberGenerator()
        let awkward: [UInt8] = [0x00, 0x09, 0x0D, 0x2D, 0x40, 0x41, 0x5A, 0x5B, 0x60, 0x61, 0x7A, 0x7B, 0x7F, 0x80, 0xC1, 0xE1, 0xFF]
        for count in 0...40 {
            for _ in 0..<300 {
                let lowercase = (0..<count).map { _ in [UInt8](Array("abcdefghijklmnopqrstuvwxyz0123456789-_.".utf8)).randomElement(using: &random)! }
                // The word itself in random case, then with one byte (or none) changed to an awkward one.
                var text = lowercase.map { $0 >= 0x61 && $0 <= 0x7A && Bool.random(using: &random) ? $0 - 0x20 : $0 }
                if count > 0, Bool.random(using: &random) {
                    text[Int.random(in: 0..<count, using: &random)] = awkward.randomElement(using: &random)!
                }
                if Int.random(in: 0..<10, using: &random) == 0 { text.append(0x61) }  // another length
                let answer = text.withUnsafeBufferPointer { a in lowercase.withUnsafeBufferPointer { b in ASCII.equals(a, b) } }
                XCTAssertEqual(answer, Self.reference(text, lowercase), "\(text) against \(lowercase)")
            }
        }
    }

    func testKnownNamesInAnyCaseAndHopByHopInItsOrder() {
        let names: [HTTP1Fields.KnownName: String] = [
            .connection: "connection", .proxyConnection: "proxy-connection", .keepAlive: "keep-alive", .te: "te", .trailer: "trailer",
            .transferEncoding: "transfer-encoding", .upgrade: "upgrade", .proxyAuthenticate: "proxy-authenticate",
            .proxyAuthorization: "proxy-authorization", .via: "via", .host: "host", .expect: "expect", .contentLength: "content-length",
            .xForwardedFor: "x-forwarded-for", .xForwardedHost: "x-forwarded-host", .xForwardedProto: "x-forwarded-proto",
        ]
        XCTAssertEqual(names.count, HTTP1Fields.KnownName.allCases.count)
        for (known, name) in names {
            for spelling in [name, name.uppercased(), String(name.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element })] {
                let found = Array(spelling.utf8).withUnsafeBufferPointer { HTTP1Fields.knownName($0) }
                XCTAssertEqual(found, known, spelling)
                let index = Array(spelling.utf8).withUnsafeBufferPointer { HTTP1Fields.hopByHopIndex($0) }
                XCTAssertEqual(index, HTTP1Fields.hopByHop.firstIndex(of: name), spelling)
                XCTAssertEqual(known.isHopByHop, index != nil, spelling)
            }
            // One byte off, first or last: not that name.
            var first = Array(name.utf8)
            first[0] ^= 0x01
            var last = Array(name.utf8)
            last[last.count - 1] ^= 0x01
            XCTAssertNil(first.withUnsafeBufferPointer { HTTP1Fields.knownName($0) }, name)
            XCTAssertNil(last.withUnsafeBufferPointer { HTTP1Fields.knownName($0) }, name)
        }
        for name in ["", "t", "hosts", "content-type", "x-forwarded-port", "Tee", "Upgradf"] {
            XCTAssertNil(Array(name.utf8).withUnsafeBufferPointer { HTTP1Fields.knownName($0) }, name)
        }
    }
}
