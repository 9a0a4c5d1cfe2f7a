// libFuzzer entry point of the fuzz target 'storage-options' (see FUZZING.md).
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.storageOptions.run(data, size)
}
