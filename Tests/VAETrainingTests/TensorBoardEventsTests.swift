// TensorBoard's event file format, by hand: CRC-32C against its check value, the TFRecord frame around an
// event, and the protocol buffer bytes of a scalar event. TensorBoard's own reader reads whole runs back in
// PractitionerKnobsUnderMPITests.

import Testing
@testable import VAESupport

@Suite struct TensorBoardEventsTests {
    @Test func crc32cHasItsCheckValueAndTheRecordItsFrame() {
        #expect(TensorBoardEvent.crc32c(Array("123456789".utf8)) == 0xE306_9283)
        let data: [UInt8] = [1, 2, 3]
        let record = TensorBoardEvent.record(data)
        #expect(record.count == 8 + 4 + 3 + 4 && Array(record[0..<8]) == [3, 0, 0, 0, 0, 0, 0, 0] && Array(record[12..<15]) == data)
        let masked = TensorBoardEvent.maskedCRC32C(data), crc = TensorBoardEvent.crc32c(data)
        #expect(masked == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        #expect(Array(record[15..<19]) == [UInt8(masked & 0xFF), UInt8(masked >> 8 & 0xFF), UInt8(masked >> 16 & 0xFF), UInt8(masked >> 24)])
    }

    @Test func aScalarEventIsItsProtocolBuffer() {
        let event = TensorBoardEvent.scalars([("loss", 1.5)], step: 300, wallTime: 0)
        // wall_time (1, fixed64) 0; step (2, varint) 300 = AC 02; summary (5) { value (1) { tag (1) "loss", simple_value (2, fixed32) 1.5 } }
        #expect(event == [0x09, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xAC, 0x02, 0x2A, 0x0D, 0x0A, 0x0B, 0x0A, 0x04]
                + Array("loss".utf8) + [0x15, 0x00, 0x00, 0xC0, 0x3F])
        #expect(TensorBoardEvent.sessionStart(step: 16, wallTime: 0).suffix(4) == [0x3A, 0x02, 0x08, 0x01], "session_log (7) { status START }")
    }
}
