// libFuzzer entry point of the fuzz target 'qemu-img-info' (see FUZZING.md).
import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTarget.qemuImgInfo.run(data, size)
}
