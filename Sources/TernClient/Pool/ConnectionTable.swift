/// A map from a pool's connection ids to values, in place of `Dictionary` for the lookups every
/// pooled request makes (lease, release, park: five per request between `PoolStateMachine` and
/// `OriginPool`). `Dictionary` hashes an `Int` with SipHash through `Hasher`; here the ids, small
/// and handed out in order, are spread by one multiplication (Fibonacci hashing) over a table
/// kept at most half full, probed linearly, and a removal shifts the entries after it back
/// rather than leaving a tombstone. Keys are non-negative (`PoolStateMachine.makeConnectionID`).
struct ConnectionTable<Value> {
    private struct Entry {
        var key: Int
        var value: Value?
    }

    private static var empty: Int { -1 }

    private var entries: [Entry]
    /// The table's size is `1 << bits`.
    private var bits: Int
    private(set) var count = 0

    init() {
        self.bits = 3
        self.entries = Array(repeating: Entry(key: Self.empty, value: nil), count: 1 << 3)
    }

    var isEmpty: Bool { self.count == 0 }

    /// The values, in no particular order (the pool's idle sweep sorts what it takes of them).
    var values: [Value] {
        self.entries.compactMap { $0.key == Self.empty ? nil : $0.value }
    }

    subscript(key: Int) -> Value? {
        get {
            guard let index = self.index(of: key) else { return nil }
            return self.entries[index].value
        }
        set {
            if let newValue {
                self.updateValue(newValue, forKey: key)
            } else {
                self.removeValue(forKey: key)
            }
        }
    }

    /// Sets the value of `key`; returns the one it replaced, if any.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey key: Int) -> Value? {
        precondition(key >= 0, "connection ids are not negative")
        let mask = self.entries.count - 1
        var index = self.home(key)
        while true {
            let found = self.entries[index].key
            if found == key {
                let old = self.entries[index].value
                self.entries[index].value = value
                return old
            }
            if found == Self.empty { break }
            index = (index + 1) & mask
        }
        self.entries[index] = Entry(key: key, value: value)
        self.count += 1
        if self.count * 2 > self.entries.count { self.grow() }
        return nil
    }

    /// Removes `key`; returns its value, if it had one.
    @discardableResult
    mutating func removeValue(forKey key: Int) -> Value? {
        guard var hole = self.index(of: key) else { return nil }
        let old = self.entries[hole].value
        let mask = self.entries.count - 1
        // Backward-shift deletion: each entry after the hole, up to the first empty slot, moves into
        // the hole unless its home lies cyclically between the hole and where it is (it would then
        // be found before reaching the hole's slot, so it stays).
        var next = hole
        while true {
            next = (next + 1) & mask
            let key = self.entries[next].key
            if key == Self.empty { break }
            let home = self.home(key)
            let staysPut = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if staysPut { continue }
            self.entries[hole] = self.entries[next]
            hole = next
        }
        self.entries[hole] = Entry(key: Self.empty, value: nil)
        self.count -= 1
        return old
    }

    private func index(of key: Int) -> Int? {
        let mask = self.entries.count - 1
        var index = self.home(key)
        while true {
            let found = self.entries[index].key
            if found == key { return index }
            if found == Self.empty { return nil }
            index = (index + 1) & mask
        }
    }

    /// The slot `key` is looked for from: the top `bits` bits of the key times 2^64/φ.
    private func home(_ key: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: key) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - self.bits))
    }

    private mutating func grow() {
        let old = self.entries
        self.bits += 1
        self.entries = Array(repeating: Entry(key: Self.empty, value: nil), count: 1 << self.bits)
        self.count = 0
        for entry in old where entry.key != Self.empty {
            self.updateValue(entry.value!, forKey: entry.key)
        }
    }
}
