// libFuzzer entry point of the fuzz target 'qcow2-clusters' (see FUZZING.md).
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.qcow2Clusters.run(data, size)
}
