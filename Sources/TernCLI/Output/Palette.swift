/// ANSI colors for terminal output. `.none` has every color empty, so output is plain.
public struct Palette: Sendable, Hashable {
    public var key: String
    public var string: String
    public var number: String
    public var bool: String
    public var null: String
    public var headerName: String
    public var version: String
    public var method: String
    public var success: String
    public var redirect: String
    public var failure: String
    public var dim: String

    public static let reset = "\u{1B}[0m"

    public static let none = Palette(
        key: "", string: "", number: "", bool: "", null: "", headerName: "", version: "", method: "",
        success: "", redirect: "", failure: "", dim: "")

    public static let ansi = Palette(
        key: "\u{1B}[34m",        // blue
        string: "\u{1B}[33m",     // yellow
        number: "\u{1B}[36m",     // cyan
        bool: "\u{1B}[35m",       // magenta
        null: "\u{1B}[35m",
        headerName: "\u{1B}[36m",
        version: "\u{1B}[34m",
        method: "\u{1B}[32m",
        success: "\u{1B}[32m",
        redirect: "\u{1B}[33m",
        failure: "\u{1B}[31m",
        dim: "\u{1B}[2m")

    public var isEnabled: Bool { !self.key.isEmpty }

    func paint(_ color: String, _ text: String) -> String {
        color.isEmpty ? text : color + text + Palette.reset
    }

    func status(_ code: Int) -> String {
        switch code {
        case 200..<300: return self.success
        case 300..<400: return self.redirect
        case 400...: return self.failure
        default: return self.version
        }
    }
}
