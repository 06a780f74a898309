extension CachePolicy {
    private static let monthNames: [UInt32] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ].map(Self.packLetters)
    private static let monthTitles = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private static let dayTitles = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    private static func packLetters(_ text: String) -> UInt32 {
        text.utf8.reduce(0) { $0 << 8 | UInt32(Self.lower($1)) }
    }

    /// An HTTP-date (RFC 9110 §5.6.7) in any of its three forms, as seconds since the Unix epoch:
    /// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT`, RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT` and
    /// asctime `Sun Nov  6 08:49:37 1994`. Tolerates surrounding and repeated spaces, a one-digit
    /// day and any letter case; the weekday is not checked. A two-digit year is 20yy below 70 and
    /// 19yy from 70 (the fixed form of the RFC's "50 years" rule). Nil for anything else,
    /// including impossible dates such as `31 Feb`.
    static func parseHTTPDate(_ text: Substring) -> Int64? {
        var cursor = DateCursor(text.utf8)
        cursor.skipSpaces()
        guard cursor.letters() >= 3 else { return nil }  // the weekday
        let day: Int, month: Int, year: Int, time: (Int, Int, Int)
        if cursor.take(CachePolicy.comma) {
            cursor.skipSpaces()
            guard let d = cursor.number(maxDigits: 2) else { return nil }
            day = d
            if cursor.take(0x2D) {  // RFC 850: 06-Nov-94
                guard let m = cursor.month(), cursor.take(0x2D), let y = cursor.number(maxDigits: 4) else { return nil }
                month = m
                year = Self.fullYear(y, digits: cursor.lastDigits)
            } else {  // IMF-fixdate: 06 Nov 1994
                guard cursor.skipSpaces(), let m = cursor.month(), cursor.skipSpaces(),
                    let y = cursor.number(maxDigits: 4)
                else { return nil }
                month = m
                year = Self.fullYear(y, digits: cursor.lastDigits)
            }
            guard cursor.skipSpaces(), let t = cursor.time(), cursor.skipSpaces(), cursor.zone() else { return nil }
            time = t
        } else {  // asctime: Nov  6 08:49:37 1994
            guard cursor.skipSpaces(), let m = cursor.month(), cursor.skipSpaces(), let d = cursor.number(maxDigits: 2),
                cursor.skipSpaces(), let t = cursor.time(), cursor.skipSpaces(), let y = cursor.number(maxDigits: 4),
                cursor.lastDigits == 4
            else { return nil }
            (month, day, year, time) = (m, d, y, t)
        }
        cursor.skipSpaces()
        guard cursor.atEnd, year >= 0, day >= 1, day <= Self.daysIn(month: month, year: year),
            time.0 <= 23, time.1 <= 59, time.2 <= 60
        else { return nil }
        let days = Self.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        return days * 86_400 + Int64(time.0 * 3600 + time.1 * 60 + time.2)
    }

    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. Times outside the years 0–9999 are
    /// clamped into them.
    static func formatHTTPDate(_ seconds: Int64) -> String {
        let clamped = min(max(seconds, -62_167_219_200), 253_402_300_799)
        let days = clamped >= 0 ? clamped / 86_400 : (clamped - 86_399) / 86_400
        let secondOfDay = Int(clamped - days * 86_400)
        let (year, month, day) = Self.civilFromDays(days)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
        var text = Self.dayTitles[weekday]
        text.reserveCapacity(29)
        text += ", "
        Self.appendDigits(&text, day, width: 2)
        text += " " + Self.monthTitles[month - 1] + " "
        Self.appendDigits(&text, year, width: 4)
        text += " "
        Self.appendDigits(&text, secondOfDay / 3600, width: 2)
        text += ":"
        Self.appendDigits(&text, secondOfDay / 60 % 60, width: 2)
        text += ":"
        Self.appendDigits(&text, secondOfDay % 60, width: 2)
        text += " GMT"
        return text
    }

    private static func appendDigits(_ text: inout String, _ value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            text.unicodeScalars.append(Unicode.Scalar(UInt8(0x30 + value / divisor % 10)))
            divisor /= 10
        }
    }

    /// A year of 2 or 4 digits; -1 (invalid) for other lengths.
    private static func fullYear(_ year: Int, digits: Int) -> Int {
        guard digits == 2 else { return digits == 4 ? year : -1 }
        return year < 70 ? 2000 + year : 1900 + year
    }

    private static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return Self.isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// A forward-only reader over the bytes of a date.
    private struct DateCursor {
        let bytes: Substring.UTF8View
        var index: Substring.UTF8View.Index
        var lastDigits = 0

        init(_ bytes: Substring.UTF8View) {
            self.bytes = bytes
            self.index = bytes.startIndex
        }

        var atEnd: Bool { self.index == self.bytes.endIndex }

        /// Skips spaces and tabs; true when there was at least one.
        @discardableResult
        mutating func skipSpaces() -> Bool {
            var skipped = false
            while !self.atEnd, self.bytes[self.index] == CachePolicy.space || self.bytes[self.index] == CachePolicy.tab {
                self.index = self.bytes.index(after: self.index)
                skipped = true
            }
            return skipped
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard !self.atEnd, self.bytes[self.index] == byte else { return false }
            self.index = self.bytes.index(after: self.index)
            return true
        }

        /// Skips ASCII letters; returns how many.
        mutating func letters() -> Int {
            var n = 0
            while !self.atEnd, CachePolicy.lower(self.bytes[self.index]) &- 0x61 < 26 {
                self.index = self.bytes.index(after: self.index)
                n += 1
            }
            return n
        }

        /// 1 to `maxDigits` digits (no more may follow).
        mutating func number(maxDigits: Int) -> Int? {
            var value = 0, n = 0
            while !self.atEnd, CachePolicy.isDigit(self.bytes[self.index]) {
                guard n < maxDigits else { return nil }
                value = value * 10 + Int(self.bytes[self.index] &- 0x30)
                n += 1
                self.index = self.bytes.index(after: self.index)
            }
            self.lastDigits = n
            return n == 0 ? nil : value
        }

        /// A three-letter month name, 1-12.
        mutating func month() -> Int? {
            var packed: UInt32 = 0
            for _ in 0..<3 {
                guard !self.atEnd else { return nil }
                packed = packed << 8 | UInt32(CachePolicy.lower(self.bytes[self.index]))
                self.index = self.bytes.index(after: self.index)
            }
            guard let position = CachePolicy.monthNames.firstIndex(of: packed) else { return nil }
            return position + 1
        }

        /// `hh:mm:ss`, two digits each.
        mutating func time() -> (Int, Int, Int)? {
            guard let h = self.number(maxDigits: 2), self.lastDigits == 2, self.take(0x3A),
                let m = self.number(maxDigits: 2), self.lastDigits == 2, self.take(0x3A),
                let s = self.number(maxDigits: 2), self.lastDigits == 2
            else { return nil }
            return (h, m, s)
        }

        /// `GMT` (or `UTC`), any case.
        mutating func zone() -> Bool {
            var packed: UInt32 = 0
            for _ in 0..<3 {
                guard !self.atEnd else { return false }
                packed = packed << 8 | UInt32(CachePolicy.lower(self.bytes[self.index]))
                self.index = self.bytes.index(after: self.index)
            }
            return packed == 0x67_6D_74 || packed == 0x75_74_63
        }
    }
}
