import XCTest

@testable import TernClient

/// The pool's id table against `Dictionary`, under the pattern a pool makes (ids handed out in
/// order, most closed soon, a few kept long) and under random keys that collide often.
final class ConnectionTableTests: XCTestCase {
    func testAgreesWithDictionaryUnderPoolChurn() {
        var generator = SystemRandomNumberGenerator()
        var table = ConnectionTable<Int>()
        var reference: [Int: Int] = [:]
        var nextID = 0
        for step in 0..<20_000 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<4:  // a new connection
                table[nextID] = step
                reference[nextID] = step
                nextID += 1
            case 4..<7:  // one closes: mostly recent ones, now and then an old one
                guard let id = reference.keys.randomElement(using: &generator) else { continue }
                XCTAssertEqual(table.removeValue(forKey: id), reference.removeValue(forKey: id))
            case 7..<9:  // a state change
                guard let id = reference.keys.randomElement(using: &generator) else { continue }
                XCTAssertEqual(table.updateValue(-step, forKey: id), reference.updateValue(-step, forKey: id))
            default:  // a lookup of an id that may be gone
                let id = Int.random(in: 0...max(nextID, 1), using: &generator)
                XCTAssertEqual(table[id], reference[id])
            }
            XCTAssertEqual(table.count, reference.count)
        }
        for id in 0...nextID { XCTAssertEqual(table[id], reference[id], "id \(id)") }
        XCTAssertEqual(table.values.sorted(), reference.values.sorted())
    }

    func testRemovalKeepsCollidingKeysFindable() {
        // Keys that share slots in a small table, removed in every order: each removal must leave
        // the others findable (the backward shift across the table's end included).
        let keys = Array(0..<24).map { $0 * 8 }
        for rotation in 0..<keys.count {
            var table = ConnectionTable<Int>()
            for key in keys { table[key] = key + 1 }
            let order = Array(keys[rotation...] + keys[..<rotation])
            for (removed, key) in order.enumerated() {
                XCTAssertEqual(table.removeValue(forKey: key), key + 1)
                XCTAssertNil(table[key])
                for other in order[(removed + 1)...] { XCTAssertEqual(table[other], other + 1, "after removing \(key)") }
                XCTAssertEqual(table.count, keys.count - removed - 1)
            }
            XCTAssertTrue(table.isEmpty)
            XCTAssertNil(table.removeValue(forKey: 0))
        }
    }
}
