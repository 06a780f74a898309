/// A handler's link to an object that its channel's pipeline keeps alive: its own context, or a
/// handler next to it that it calls directly. The hot paths read it through `borrowed`, without a
/// retain and a release.
///
/// Reading a class's stored reference and then calling something the compiler cannot see into
/// costs a retain before the call and a release after it, in case the call frees the object. On the
/// proxy's path that is nearly every read: reading the contexts and the handlers called directly this
/// way took a proxied 1 KiB request from 380 retains and releases to 318 (`proxy-refcounts.sh`). A
/// link keeps the strong reference, so the object lives exactly as long as it did, and beside it an
/// unmanaged copy, which `Unmanaged._withUnsafeGuaranteedRef` hands to a body as a borrowed
/// reference with no reference counting at all.
///
/// The rule that makes this safe: nothing inside such a body may clear the link it came from (and
/// with it the last strong reference but the pipeline's). Links are set in `handlerAdded` and
/// cleared in `handlerRemoved` (or by the handler that set them, in its own `handlerRemoved`), and
/// the pipeline holds each context and its handler from before the one until after the other. A
/// channel's close removes its handlers on a later turn of the event loop (NIO's
/// `BaseSocketChannel.close0`), never under a call still running. The only removal during a call is
/// a protocol switch taking the HTTP/1 handlers out, which runs on the upstream's read, under none
/// of these bodies.
package struct PipelineLink<Object: AnyObject> {
    /// The strong reference: what keeps the object alive.
    package private(set) var object: Object?
    /// The same object, uncounted. Read it into a local, then `_withUnsafeGuaranteedRef`.
    package private(set) var borrowed: Unmanaged<Object>?

    package init() {}

    package mutating func set(_ object: Object?) {
        self.object = object
        self.borrowed = object.map { Unmanaged.passUnretained($0) }
    }
}

extension Unmanaged {
    /// `_withUnsafeGuaranteedRef`, handing `value` on to `body` by a move: a closure cannot consume
    /// what it captures, so `value` waits in an `Optional` it takes it from. A part passed down the
    /// proxy's handlers this way is not copied (a retain of its head or buffer) at each of them.
    @inlinable
    package func withUnsafeGuaranteedRef<Value>(passing value: consuming Value, _ body: (Instance, consuming Value) -> Void) {
        var value = Optional(consume value)
        self._withUnsafeGuaranteedRef { body($0, value.take()!) }
    }
}
