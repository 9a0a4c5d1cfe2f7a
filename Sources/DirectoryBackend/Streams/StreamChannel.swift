import PVEStorage

/// Progress of a stream on standard error, about once a second, one line each (as
/// `dir`'s export shows `dd`'s progress in the task log): bytes so far, the total when
/// known, the rate; and a last line when the stream is complete.
final class StreamProgress {
    let system: any SystemCalls
    let label: String
    let total: UInt64?
    private(set) var bytes: UInt64 = 0
    private let start: Int64
    private var lastReport: Int64
    static let interval: Int64 = 1_000_000_000

    init(system: any SystemCalls, label: String, total: UInt64?) {
        self.system = system
        self.label = label
        self.total = total
        start = system.monotonicTime()
        lastReport = start
    }

    func advance(_ count: Int) {
        bytes &+= UInt64(max(count, 0))
        let now = system.monotonicTime()
        guard now - lastReport >= Self.interval else { return }
        lastReport = now
        report(now: now, final: false)
    }

    func finish() { report(now: system.monotonicTime(), final: true) }

    private func report(now: Int64, final: Bool) {
        let seconds = Double(max(now - start, 1)) / 1e9
        var line = "\(label): \(bytes) bytes"
        if let total, total > 0, !final {
            line += " of \(total) (\(min(bytes &* 100 / total, 100))%)"
        }
        line += final ? " in \(Self.decimal(seconds, 1)) s, " : ", "
        line += Self.human(Double(bytes) / seconds) + "/s\n"
        let text = Array(line.utf8)
        // Progress is best effort: a closed standard error must not fail the stream.
        _ = text.withUnsafeBytes { try? system.writeDescriptor(2, from: $0, at: nil) }
    }

    static func human(_ rate: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = rate
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return "\(decimal(value, 2)) \(units[unit])"
    }

    static func decimal(_ value: Double, _ places: Int) -> String {
        guard value.isFinite, value >= 0, value < 1e15 else { return "0" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((value * scale).rounded())
        let whole = scaled / Int64(scale)
        var fraction = String(scaled % Int64(scale))
        while fraction.count < places { fraction = "0" + fraction }
        return places > 0 ? "\(whole).\(fraction)" : "\(whole)"
    }
}

/// The file descriptor PVE passed (a pipe, a socket or a file), used sequentially:
/// never seeked, read and written in place. Stop signals end a stream (the caller
/// cleans up); a peer that went away is an error.
final class StreamChannel {
    let system: any SystemCalls
    let descriptor: Int32
    let signals: StreamSignals
    let progress: StreamProgress
    /// `export` or `import`, for messages.
    let direction: StreamDirection
    /// Whether the end of the input was seen.
    private(set) var ended = false

    static let chunk = 1 << 20
    /// Zeros to send for holes, and a buffer for copies the kernel cannot make.
    private let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamChannel.chunk, alignment: 16)
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamChannel.chunk, alignment: 16)

    /// Whether O_NONBLOCK was set before the stream set it (restored by ``end()``); nil
    /// when the flags are the caller's (not changed, or already restored).
    private var previouslyNonBlocking: Bool?

    init(system: any SystemCalls, descriptor: Int32, direction: StreamDirection, total: UInt64?) {
        self.system = system
        self.descriptor = descriptor
        self.direction = direction
        signals = system.holdStreamSignals()
        progress = StreamProgress(system: system, label: direction.description, total: total)
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        // Non-blocking while the stream runs: a write to a stalled reader (or a read) never
        // blocks with the stop signals held; EAGAIN waits in poll, which a stop ends.
        previouslyNonBlocking = try? system.setNonBlocking(descriptor, true)
    }

    /// Restores the descriptor's flags and the signal mask (before a subprocess gets the
    /// stream, and at the end, also on errors).
    func end() {
        if let previous = previouslyNonBlocking {
            previouslyNonBlocking = nil
            _ = try? system.setNonBlocking(descriptor, previous)
        }
        signals.end()
    }

    deinit {
        zeros.deallocate()
        scratch.deallocate()
    }

    private func interrupted(_ signal: Int32) -> StorageError {
        switch direction {
        case .import: StorageError(ImportFailure.interrupted(signal: signal))
        case .export: StorageError(ExportFailure.interrupted(signal: signal))
        }
    }

    private func waitReady(writing: Bool) throws(StorageError) {
        let signal: Int32?
        do { signal = try system.waitReady(descriptor, writing: writing, signals: signals) } catch {
            switch direction {
            case .import: throw StorageError(ImportFailure.waitFailed(error))
            case .export: throw StorageError(ExportFailure.waitFailed(error))
            }
        }
        if let signal { throw interrupted(signal) }
    }

    func readError(_ error: Errno) -> StorageError {
        StorageError(ImportFailure.readStream(error))
    }

    func writeError(_ error: Errno) -> StorageError {
        StorageError(ExportFailure.writeStream(error))
    }

    /// Reads what is there, up to the buffer's size; 0 at the end of the stream.
    func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        guard !ended, buffer.count > 0 else { return 0 }
        while true {
            try waitReady(writing: false)
            let count: Int
            do { count = try system.readDescriptor(descriptor, into: buffer, at: nil) } catch {
                if error == .wouldBlock { continue } // nothing there after all: poll again
                throw readError(error)
            }
            if count == 0 { ended = true }
            return count
        }
    }

    /// Fills the buffer unless the stream ends first; returns the bytes read.
    func readFull(into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = try readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// The size header: 8 bytes, or nil when the stream ended before.
    func readHeader() throws(StorageError) -> UInt64? {
        let header = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<StreamHeader.length])
        let count = try readFull(into: header)
        return StreamHeader.decode(Array(header[0..<count]))
    }

    func writeAll(_ buffer: UnsafeRawBufferPointer, counted: Bool = true) throws(StorageError) {
        var offset = 0
        while offset < buffer.count {
            try waitReady(writing: true)
            let written: Int
            do { written = try system.writeDescriptor(descriptor, from: UnsafeRawBufferPointer(rebasing: buffer[offset...]), at: nil) } catch {
                if error == .wouldBlock { continue } // full: poll again
                throw writeError(error)
            }
            guard written > 0 else { throw writeError(.ioError) }
            offset += written
            if counted { progress.advance(written) }
        }
    }

    func writeHeader(_ value: UInt64) throws(StorageError) {
        let header = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<StreamHeader.length])
        header.copyBytes(from: StreamHeader.encode(value))
        try writeAll(UnsafeRawBufferPointer(header), counted: false)
    }

    /// `count` zero bytes (a hole), written without reading anything.
    func writeZeros(_ count: Int64) throws(StorageError) {
        var left = count
        while left > 0 {
            let piece = Int(min(left, Int64(Self.chunk)))
            try writeAll(UnsafeRawBufferPointer(rebasing: zeros[0..<piece]))
            left -= Int64(piece)
        }
    }

    /// `count` bytes of the open file `source` at `offset`, copied in the kernel
    /// (sendfile) where it applies, else read and written. A file shorter than
    /// expected is an error.
    func send(from source: Int32, at offset: Int64, count: Int64, path: String) throws(StorageError) {
        var position = offset
        let end = offset + count
        var kernelCopy = true
        while position < end {
            let piece = Int(min(end - position, Int64(Self.chunk) * 8))
            if kernelCopy {
                try waitReady(writing: true)
                let sent: Int
                do { sent = try system.sendFile(from: source, at: position, to: descriptor, count: piece) } catch {
                    if error == .wouldBlock { continue } // full: poll again
                    guard error == .invalidArgument || error == .notImplemented else { throw writeError(error) }
                    kernelCopy = false
                    continue
                }
                guard sent > 0 else { throw StorageError(ExportFailure.endedEarly(path: path, at: position)) }
                position += Int64(sent)
                progress.advance(sent)
                continue
            }
            let buffer = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(piece, Self.chunk)])
            let got: Int
            do { got = try system.readDescriptor(source, into: buffer, at: position) } catch {
                throw StorageError(ExportFailure.read(path: path, error))
            }
            guard got > 0 else { throw StorageError(ExportFailure.endedEarly(path: path, at: position)) }
            try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            position += Int64(got)
        }
    }
}

/// Whether every byte of `buffer` is zero, a machine word at a time.
func isAllZero(_ buffer: UnsafeRawBufferPointer) -> Bool {
    let words = buffer.count / 8
    var index = 0
    var accumulated: UInt64 = 0
    while index < words {
        accumulated |= buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)
        if index & 63 == 63, accumulated != 0 { return false }
        index += 1
    }
    if accumulated != 0 { return false }
    for offset in (words * 8)..<buffer.count where buffer[offset] != 0 { return false }
    return true
}
