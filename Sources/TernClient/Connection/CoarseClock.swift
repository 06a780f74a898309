import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension NIODeadline {
    /// The time the way timers that run to seconds need it, cheaply: on Linux the monotonic
    /// clock as the kernel last ticked it (`CLOCK_MONOTONIC_COARSE`, the clock `now()` reads, up to
    /// one tick behind it: 4 ms at most here, 1 ms on most servers). A read of the kernel's shared
    /// page, about 6 ns here, where `now()` asks the time counter, about 23 ns; a proxied request
    /// stamped four times. So a deadline made from it falls up to a tick early: the timers built
    /// on it (a connection's idle and read timeouts, a client's header and keep-alive timeouts)
    /// run to seconds, and nginx times its own from a clock read once per loop iteration. Not for
    /// what measures a duration (a latency histogram, the access log): those keep `now()`.
    /// Elsewhere, `now()`.
    @inline(__always)
    package static func coarseNow() -> NIODeadline {
        #if os(Linux)
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return .uptimeNanoseconds(UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec))
        #else
        return .now()
        #endif
    }
}
