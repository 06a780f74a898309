/// An order-preserving JSON pretty-printer over raw bytes.
///
/// Unlike a parse-and-reserialize round trip, it keeps key order, number spelling and string
/// escapes exactly as the server sent them; it only re-indents and, optionally, colors.
/// Returns `nil` when the input is not one complete JSON value (the caller then prints it as text).
public struct JSONFormatter: Sendable {
    /// Spaces per level; nil prints everything on one line (`{"a": 1, "b": [2]}`).
    public var indent: Int?
    public var palette: Palette
    /// Deeper documents are printed as they are rather than risking the stack.
    public var maxDepth: Int

    public init(indent: Int? = 4, palette: Palette = .none, maxDepth: Int = 256) {
        self.indent = indent
        self.palette = palette
        self.maxDepth = maxDepth
    }

    public func format(_ input: some Collection<UInt8>) -> [UInt8]? {
        let bytes = Array(input)
        var state = State(input: bytes, formatter: self)
        state.skipWhitespace()
        guard state.value(depth: 0) else { return nil }
        state.skipWhitespace()
        guard state.position == bytes.count else { return nil }
        return state.output
    }

    public func format(_ string: String) -> String? {
        self.format(Array(string.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    private struct State {
        let input: [UInt8]
        let formatter: JSONFormatter
        var position = 0
        var output: [UInt8] = []

        init(input: [UInt8], formatter: JSONFormatter) {
            self.input = input
            self.formatter = formatter
            self.output.reserveCapacity(input.count + input.count / 4)
        }

        var peek: UInt8? { self.position < self.input.count ? self.input[self.position] : nil }

        mutating func skipWhitespace() {
            while let b = self.peek, b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { self.position += 1 }
        }

        mutating func emit(_ s: String) { self.output.append(contentsOf: s.utf8) }

        mutating func newline(depth: Int, first: Bool) {
            guard let indent = self.formatter.indent else {
                if !first { self.output.append(0x20) }
                return
            }
            self.output.append(0x0A)
            self.output.append(contentsOf: repeatElement(0x20, count: depth * indent))
        }

        mutating func value(depth: Int) -> Bool {
            guard depth <= self.formatter.maxDepth, let b = self.peek else { return false }
            switch b {
            case UInt8(ascii: "{"): return self.container(depth: depth, close: UInt8(ascii: "}"), isObject: true)
            case UInt8(ascii: "["): return self.container(depth: depth, close: UInt8(ascii: "]"), isObject: false)
            case UInt8(ascii: "\""): return self.string(color: self.formatter.palette.string)
            case UInt8(ascii: "t"): return self.literal("true")
            case UInt8(ascii: "f"): return self.literal("false")
            case UInt8(ascii: "n"): return self.literal("null")
            default: return self.number()
            }
        }

        mutating func container(depth: Int, close: UInt8, isObject: Bool) -> Bool {
            let open = self.input[self.position]
            self.position += 1
            self.output.append(open)
            self.skipWhitespace()
            if self.peek == close {
                self.position += 1
                self.output.append(close)
                return true
            }
            var first = true
            while true {
                self.newline(depth: depth + 1, first: first)
                first = false
                if isObject {
                    guard self.peek == UInt8(ascii: "\""), self.string(color: self.formatter.palette.key) else { return false }
                    self.skipWhitespace()
                    guard self.peek == UInt8(ascii: ":") else { return false }
                    self.position += 1
                    self.emit(": ")
                    self.skipWhitespace()
                }
                guard self.value(depth: depth + 1) else { return false }
                self.skipWhitespace()
                guard let b = self.peek else { return false }
                self.position += 1
                if b == UInt8(ascii: ",") {
                    self.output.append(b)
                    self.skipWhitespace()
                    continue
                }
                guard b == close else { return false }
                self.newline(depth: depth, first: true)
                self.output.append(close)
                return true
            }
        }

        mutating func string(color: String) -> Bool {
            let start = self.position
            self.position += 1
            while let b = self.peek {
                self.position += 1
                switch b {
                case UInt8(ascii: "\""):
                    self.colored(color, self.input[start..<self.position])
                    return true
                case UInt8(ascii: "\\"):
                    guard let e = self.peek else { return false }
                    self.position += 1
                    if e == UInt8(ascii: "u") {
                        for _ in 0..<4 {
                            guard let h = self.peek, h.isHexDigit else { return false }
                            self.position += 1
                        }
                    } else if !"\"\\/bfnrt".utf8.contains(e) {
                        return false
                    }
                case 0..<0x20:
                    return false
                default:
                    continue
                }
            }
            return false
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard self.input.count - self.position >= w.count,
                  self.input[self.position..<self.position + w.count].elementsEqual(w) else { return false }
            self.position += w.count
            self.colored(word == "null" ? self.formatter.palette.null : self.formatter.palette.bool, w[...])
            return true
        }

        mutating func number() -> Bool {
            let start = self.position
            if self.peek == UInt8(ascii: "-") { self.position += 1 }
            guard let first = self.peek, first.isDigit else { return false }
            self.position += 1
            if first != UInt8(ascii: "0") { while let d = self.peek, d.isDigit { self.position += 1 } }
            if self.peek == UInt8(ascii: ".") {
                self.position += 1
                guard let d = self.peek, d.isDigit else { return false }
                while let d = self.peek, d.isDigit { self.position += 1 }
            }
            if let e = self.peek, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                self.position += 1
                if let s = self.peek, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { self.position += 1 }
                guard let d = self.peek, d.isDigit else { return false }
                while let d = self.peek, d.isDigit { self.position += 1 }
            }
            self.colored(self.formatter.palette.number, self.input[start..<self.position])
            return true
        }

        mutating func colored(_ color: String, _ text: ArraySlice<UInt8>) {
            if color.isEmpty {
                self.output.append(contentsOf: text)
            } else {
                self.emit(color)
                self.output.append(contentsOf: text)
                self.emit(Palette.reset)
            }
        }
    }
}

/// Checks that bytes are one JSON value (for `field:=json` items).
public enum JSONValidator {
    public static func validate(_ bytes: [UInt8]) -> Bool {
        JSONFormatter(indent: nil).format(bytes) != nil
    }
}

extension UInt8 {
    var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    var isHexDigit: Bool {
        self.isDigit || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f"))
            || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "F"))
    }
}
