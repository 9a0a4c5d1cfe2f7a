/// A program to run: an absolute path and an argument vector, never a shell line.
public struct Command: Equatable, Sendable {
    public var executable: String
    public var arguments: [String]
    /// Seconds the program may run before it is killed.
    public var timeout: Int
    /// The whole environment of the program; nothing is inherited from the PVE daemon.
    public var environment: [String]
    /// Files the program writes that must not outlive a stop request: removed when a stop
    /// signal interrupts the program, before the signal reaches the process (whose default
    /// action may end it before the caller could clean up).
    public var removeWhenInterrupted: [String] = []
    /// A descriptor the program reads as its standard input (a stream PVE passed), instead of /dev/null.
    public var standardInput: Int32?
    /// A descriptor the program writes its standard output to (a stream), instead of the collected pipe.
    public var standardOutput: Int32?

    public static let standardEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]

    public init(_ executable: String, _ arguments: [String], timeout: Int, environment: [String] = standardEnvironment) {
        self.executable = executable
        self.arguments = arguments
        self.timeout = timeout
        self.environment = environment
    }

    /// The command line as a person would type it, for messages.
    public var description: String { ([executable] + arguments).joined(separator: " ") }
}

/// How a program ended and what it wrote.
public struct CommandResult: Equatable, Sendable {
    public var exitStatus: Int32?
    public var signal: Int32?
    public var timedOut: Bool
    /// The stop signal (SIGTERM, SIGINT, SIGHUP) that arrived for this process while the
    /// program ran: the program was killed, and the caller is being stopped.
    public var interruption: Int32?
    public var output: [UInt8]
    public var errorOutput: [UInt8]

    public init(exitStatus: Int32?, signal: Int32? = nil, timedOut: Bool = false, interruption: Int32? = nil,
                output: [UInt8] = [], errorOutput: [UInt8] = []) {
        self.exitStatus = exitStatus
        self.signal = signal
        self.timedOut = timedOut
        self.interruption = interruption
        self.output = output
        self.errorOutput = errorOutput
    }

    public var succeeded: Bool { exitStatus == 0 && !timedOut && interruption == nil }

    /// The program's error output as one line (what PVE shows after "command ... failed").
    public var errorText: String {
        String(decoding: errorOutput, as: UTF8.self)
            .split(separator: "\n").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
