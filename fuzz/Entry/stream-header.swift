// libFuzzer entry point of the fuzz target 'stream-header' (see FUZZING.md).
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.streamHeader.run(data, size)
}
