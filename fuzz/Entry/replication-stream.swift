// libFuzzer entry point of the fuzz target 'replication-stream' (see FUZZING.md).
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.replicationStream.run(data, size)
}
