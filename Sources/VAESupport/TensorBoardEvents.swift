// TensorBoard's event files: TFRecords (length, masked CRC-32C of the length, data, masked CRC-32C of the
// data) each holding one `Event` protocol buffer (tensorflow/core/util/event.proto, summary.proto). The few
// fields written here are encoded by hand rather than through swift-protobuf's generated code: five small
// messages do not earn a dependency that the slow CI machine would compile from source on every run.
//   Event        wall_time 1 (double), step 2 (int64), file_version 3 (string), summary 5, session_log 7
//   Summary      value 1 (repeated Value)
//   Value        tag 1 (string), simple_value 2 (float), image 4 (Image)
//   Image        height 1, width 2, colorspace 3 (int32), encoded_image_string 4 (bytes)
//   SessionLog   status 1 (START = 1)

public enum TensorBoardEvent {
    /// The first event of every file.
    public static func fileVersion(wallTime: Double) -> [UInt8] {
        var event = ProtocolBuffer()
        event.double(1, wallTime)
        event.bytes(3, Array("brain.Event:2".utf8))
        return event.data
    }

    /// Scalars, each a tag and its value, at `step`.
    public static func scalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Double) -> [UInt8] {
        var summary = ProtocolBuffer()
        for (tag, value) in values {
            var entry = ProtocolBuffer()
            entry.bytes(1, Array(tag.utf8))
            entry.float(2, value)
            summary.bytes(1, entry.data)
        }
        return event(step: step, wallTime: wallTime, field: 5, summary.data)
    }

    /// A PNG image (`channels` 1 for grey, 3 for RGB) under `tag`, at `step`.
    public static func image(tag: String, png: [UInt8], width: Int, height: Int, channels: Int, step: Int, wallTime: Double) -> [UInt8] {
        var image = ProtocolBuffer()
        image.varint(1, UInt64(height))
        image.varint(2, UInt64(width))
        image.varint(3, UInt64(channels))
        image.bytes(4, png)
        var entry = ProtocolBuffer()
        entry.bytes(1, Array(tag.utf8))
        entry.bytes(4, image.data)
        var summary = ProtocolBuffer()
        summary.bytes(1, entry.data)
        return event(step: step, wallTime: wallTime, field: 5, summary.data)
    }

    /// SessionLog START at `step`: TensorBoard drops what an interrupted run logged from that step on.
    public static func sessionStart(step: Int, wallTime: Double) -> [UInt8] {
        var log = ProtocolBuffer()
        log.varint(1, 1)
        return event(step: step, wallTime: wallTime, field: 7, log.data)
    }

    private static func event(step: Int, wallTime: Double, field: Int, _ message: [UInt8]) -> [UInt8] {
        var event = ProtocolBuffer()
        event.double(1, wallTime)
        event.varint(2, UInt64(step))
        event.bytes(field, message)
        return event.data
    }

    /// One TFRecord around `data`.
    public static func record(_ data: [UInt8]) -> [UInt8] {
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        return length + littleEndian(maskedCRC32C(length)) + data + littleEndian(maskedCRC32C(data))
    }

    /// TFRecord's mask: the CRC rotated right by 15 bits, plus a constant.
    static func maskedCRC32C(_ bytes: [UInt8]) -> UInt32 {
        let crc = crc32c(bytes)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// CRC-32C (Castagnoli), reflected, as iSCSI and TFRecord use it.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

/// A protocol buffer message being written: fields in order, each a key (field number and wire type) and a value.
private struct ProtocolBuffer {
    var data: [UInt8] = []

    mutating func varint(_ field: Int, _ value: UInt64) {
        key(field, wireType: 0)
        append(varint: value)
    }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, wireType: 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 }
    }

    mutating func float(_ field: Int, _ value: Float) {
        key(field, wireType: 5)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 }
    }

    /// A string, bytes or an embedded message.
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, wireType: 2)
        append(varint: UInt64(value.count))
        data += value
    }

    private mutating func key(_ field: Int, wireType: UInt64) { append(varint: UInt64(field) << 3 | wireType) }

    private mutating func append(varint value: UInt64) {
        var value = value
        while value >= 0x80 {
            data.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        data.append(UInt8(value))
    }
}
