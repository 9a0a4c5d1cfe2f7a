// libFuzzer entry point of the fuzz target 'request-decoding' (see FUZZING.md).
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.requestDecoding.run(data, size)
}
