/// The download progress line: `  42% [=======>         ] 4.2 MB / 10 MB  3.1 MB/s  ETA 0:02`.
/// Pure formatting; `DownloadProgress` decides when to draw it.
public enum ProgressBar {
    public static func line(received: Int64, total: Int64?, elapsed: Double, width: Int = 80) -> String {
        let rate = elapsed > 0 ? Double(received) / elapsed : 0
        let rateText = Self.bytes(Int64(rate)) + "/s"
        guard let total, total > 0 else {
            return "\(Self.bytes(received))  \(rateText)"
        }
        let fraction = min(1, Double(received) / Double(total))
        let percent = "\(Int(fraction * 100))%"
        let eta: String
        if received >= total {
            eta = "done"
        } else if rate > 0 {
            eta = "ETA " + Self.duration(Double(total - received) / rate)
        } else {
            eta = "ETA --:--"
        }
        let tail = " \(Self.bytes(received)) / \(Self.bytes(total))  \(rateText)  \(eta)"
        let head = String(repeating: " ", count: max(0, 4 - percent.count)) + percent + " "
        let barWidth = max(10, min(40, width - head.count - tail.count - 3))
        let filled = Int(fraction * Double(barWidth))
        var bar = String(repeating: "=", count: filled)
        if filled < barWidth {
            bar += ">" + String(repeating: " ", count: barWidth - filled - 1)
        }
        return head + "[" + bar + "]" + tail
    }

    /// 999 B, 1.5 kB, 12 MB, 3.2 GB (decimal units, as httpie).
    public static func bytes(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        if unit == 0 { return "\(n) B" }
        let rounded = value < 10 ? (value * 10).rounded() / 10 : value.rounded()
        let text = value < 10 ? String(rounded) : String(Int(rounded))
        return "\(text) \(units[unit])"
    }

    /// 0:07, 1:05:09
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--:--" }
        let total = Int(seconds.rounded(.up))
        let h = total / 3600, m = (total % 3600) / 60, s = total % 60
        let ss = s < 10 ? "0\(s)" : "\(s)"
        if h > 0 {
            let mm = m < 10 ? "0\(m)" : "\(m)"
            return "\(h):\(mm):\(ss)"
        }
        return "\(m):\(ss)"
    }
}
