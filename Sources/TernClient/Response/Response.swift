import Foundation
import HTTPTypes
import NIOCore

/// A response from the `async` API. The body is read from the socket only as it is consumed.
public struct Response: Sendable {
    public var status: HTTPResponse.Status
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    public var headerFields: HTTPFields
    /// The URL that answered, after redirects.
    public var url: String
    public var body: Body

    /// The response body: an `AsyncSequence` of the buffers as they came off the socket (decoded
    /// when the agent decompresses). Iterate it once.
    public struct Body: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        typealias Producer = NIOThrowingAsyncSequenceProducer<
            ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ResponseBridge
        >

        private let producer: Producer?
        /// A body that was complete before the head was handed over.
        private let buffered: [ByteBuffer]

        init(_ producer: Producer?) {
            self.producer = producer
            self.buffered = []
        }

        init(buffered: [ByteBuffer]) {
            self.producer = nil
            self.buffered = buffered
        }

        /// An empty body.
        public static var empty: Body { Body(nil) }

        public struct AsyncIterator: AsyncIteratorProtocol {
            var base: Producer.AsyncIterator?
            var buffered: IndexingIterator<[ByteBuffer]>

            public mutating func next() async throws -> ByteBuffer? {
                if let part = self.buffered.next() { return part }
                guard let base = self.base else { return nil }
                let next = try await base.next()
                self.base = next == nil ? nil : base
                return next
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(base: self.producer?.makeAsyncIterator(), buffered: self.buffered.makeIterator())
        }

        /// Reads the whole body into one buffer, failing with `.bodyTooLarge` past `maxBytes`.
        public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
            var result: ByteBuffer?
            for try await var chunk in self {
                guard (result?.readableBytes ?? 0) + chunk.readableBytes <= maxBytes else {
                    throw TernClientError(code: .bodyTooLarge, phase: .read, detail: "body over \(maxBytes) bytes")
                }
                if result == nil { result = chunk } else { result!.writeBuffer(&chunk) }
            }
            return result ?? ByteBuffer()
        }
    }

    public func bytes(upTo maxBytes: Int = 16 << 20) async throws -> ByteBuffer {
        try await self.body.collect(upTo: maxBytes)
    }

    public func string(upTo maxBytes: Int = 16 << 20) async throws -> String {
        String(buffer: try await self.body.collect(upTo: maxBytes))
    }

    public func decode<T: Decodable>(_ type: T.Type, upTo maxBytes: Int = 16 << 20, decoder: JSONDecoder = JSONDecoder())
        async throws -> T
    {
        let buffer = try await self.body.collect(upTo: maxBytes)
        return try decoder.decode(type, from: Data(buffer.readableBytesView))
    }
}
