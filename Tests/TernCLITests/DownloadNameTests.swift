import Testing
@testable import TernCLI

@Suite struct DownloadNameTests {
    @Test func contentDisposition() {
        #expect(DownloadName.fromContentDisposition("attachment; filename=\"report.pdf\"") == "report.pdf")
        #expect(DownloadName.fromContentDisposition("attachment; filename=plain.txt") == "plain.txt")
        #expect(DownloadName.fromContentDisposition("attachment; filename=\"a;b \\\"c\\\".txt\"; size=3") == "a;b \"c\".txt")
        #expect(DownloadName.fromContentDisposition("attachment; filename=\"fallback.txt\"; filename*=UTF-8''na%C3%AFve%20file.txt")
                == "naïve file.txt")
        #expect(DownloadName.fromContentDisposition("attachment; FILENAME*=iso-8859-1'en'caf%E9.txt") == "café.txt")
        #expect(DownloadName.fromContentDisposition("inline") == nil)
    }

    @Test func sanitizes() {
        #expect(DownloadName.sanitize("../../etc/passwd") == "passwd")
        #expect(DownloadName.sanitize("..\\..\\win.ini") == "win.ini")
        #expect(DownloadName.sanitize(".hidden") == "hidden")
        #expect(DownloadName.sanitize("a\u{0}b\nc") == "abc")
        #expect(DownloadName.sanitize("..") == nil)
        #expect(DownloadName.sanitize("/") == nil)
    }

    @Test func chosenName() {
        #expect(DownloadName.filename(contentDisposition: "attachment; filename=\"../x.tar.gz\"", url: "http://h/y", contentType: nil) == "x.tar.gz")
        #expect(DownloadName.filename(contentDisposition: nil, url: "http://h/files/data%20set.csv?x=1", contentType: "text/csv") == "data set.csv")
        #expect(DownloadName.filename(contentDisposition: nil, url: "http://h/", contentType: "text/html; charset=utf-8") == "index.html")
        #expect(DownloadName.filename(contentDisposition: nil, url: "http://h/api/users", contentType: "application/json") == "users.json")
        #expect(DownloadName.filename(contentDisposition: "attachment; filename=\"..\"", url: "http://h/a.bin", contentType: nil) == "a.bin")
        #expect(DownloadName.filename(contentDisposition: nil, url: "http://h", contentType: nil) == "index")
    }

    @Test func uniqueNames() {
        let taken: Set<String> = ["f.txt", "f.txt-1"]
        #expect(DownloadName.unique("f.txt") { taken.contains($0) } == "f.txt-2")
        #expect(DownloadName.unique("g.txt") { taken.contains($0) } == "g.txt")
    }
}
