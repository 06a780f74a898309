import Testing
@testable import TernCLI

@Suite struct RequestPlanTests {
    let files: RequestPlan.FileReader = { path in
        switch path {
        case "bio.txt": return Array("likes swift\n".utf8)
        case "meta.json": return Array(" {\"a\": [1, 2]}\n".utf8)
        case "pic.png": return [0x89, 0x50, 0x4E, 0x47]
        default: throw RequestItemError(item: path, reason: "cannot read file '\(path)'")
        }
    }

    func items(_ texts: String...) throws -> [RequestItem] { try texts.map { try RequestItem.parse($0) } }

    @Test func jsonBodyKeepsOrderAndTypes() throws {
        let plan = try RequestPlan.build(
            items: items("name=Ada", "age:=36", "admin:=true", "tags:=[\"x\"]", "quote=say \"hi\"\n"),
            encoding: .json, readFile: files)
        #expect(plan.hasData)
        #expect(plan.contentType == "application/json")
        #expect(String(decoding: plan.body!, as: UTF8.self)
                == #"{"name": "Ada", "age": 36, "admin": true, "tags": ["x"], "quote": "say \"hi\"\n"}"#)
    }

    @Test func jsonFromFilesAndRepeatedKeys() throws {
        let plan = try RequestPlan.build(
            items: items("bio=@bio.txt", "meta:=@meta.json", "k=1", "k=2"), encoding: .json, readFile: files)
        #expect(String(decoding: plan.body!, as: UTF8.self)
                == #"{"bio": "likes swift\n", "meta": {"a": [1, 2]}, "k": ["1", "2"]}"#)
    }

    @Test func headersQueryAndNoBody() throws {
        let plan = try RequestPlan.build(items: items("X-A:1", "User-Agent:", "X-E;", "q==a b"), encoding: .json, readFile: files)
        #expect(!plan.hasData)
        #expect(plan.body == nil)
        #expect(plan.headers.map(\.name) == ["X-A", "User-Agent", "X-E"])
        #expect(plan.headers.map(\.value) == ["1", nil, ""])
        #expect(plan.query.map(\.0) == ["q"])
        #expect(plan.query.map(\.1) == ["a b"])
    }

    @Test func urlencodedForm() throws {
        let plan = try RequestPlan.build(items: items("name=Ada Lovelace", "x=a&b=ü"), encoding: .form, readFile: files)
        #expect(plan.contentType == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(String(decoding: plan.body!, as: UTF8.self) == "name=Ada+Lovelace&x=a%26b%3D%C3%BC")
    }

    @Test func multipartWhenAFileIsUploaded() throws {
        let plan = try RequestPlan.build(items: items("name=Ada", "pic@pic.png"), encoding: .form, boundary: "XYZ", readFile: files)
        #expect(plan.contentType == "multipart/form-data; boundary=XYZ")
        let expected: [UInt8] = Array("--XYZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n--XYZ\r\nContent-Disposition: form-data; name=\"pic\"; filename=\"pic.png\"\r\nContent-Type: image/png\r\n\r\n".utf8)
            + [0x89, 0x50, 0x4E, 0x47] + Array("\r\n--XYZ--\r\n".utf8)
        #expect(plan.body! == expected)
    }

    @Test func missingFileIsAnError() throws {
        #expect(throws: RequestItemError.self) {
            try RequestPlan.build(items: try items("a=@nope.txt"), encoding: .json, readFile: files)
        }
    }

    @Test func jsonStringEscapes() {
        #expect(String(decoding: RequestPlan.jsonString("a\u{1}\t\\é"), as: UTF8.self) == "\"a\\u0001\\t\\\\é\"")
    }
}
