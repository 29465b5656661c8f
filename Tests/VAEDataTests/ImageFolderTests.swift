// Folders as data: sorted recursive listing, the decoded cache (built once, reused, rebuilt when a file
// changes, built together by a node's ranks), data.bad_images both ways, and CelebA's attribute files.

import Foundation
import Testing
import TestSupport
import VAEConfig
import VAEData
import VAESupport

/// A size×size RGB image, every pixel `colour`.
func flatImage(_ colour: [UInt8], size: Int = 8) -> RasterImage {
    RasterImage(height: size, width: size, channels: 3, pixels: Array((0..<(size * size)).map { _ in colour }.joined()))
}

/// How to read a folder, with a cache of the test's own.
func folderSettings(cache: String = temporaryDirectory().path, badImages: BadImages = .error) -> FolderSettings {
    FolderSettings(resize: .stretch, badImages: badImages, cacheDirectory: cache)
}

func cacheFiles(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".images") }.sorted()
}

/// What `gather` makes of image `index`, back in bytes.
func pixels(_ data: ImageDataset, _ index: Int) -> [UInt8] { data.image(index).map { UInt8(($0 * 255).rounded()) } }

@Suite struct ImageFolderTests {
    @Test func filesAreFoundRecursivelyInByteOrderOfTheirPaths() throws {
        let folder = temporaryDirectory().path
        for (name, value) in [("b.png", 20), ("a.PNG", 10), ("sub/c.png", 30), ("B.png", 5)] {
            try writePNG(flatImage([UInt8(value), 0, 0]), folder + "/" + name)
        }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        let data = try ImageDataset.load(folder, folder: folderSettings(), imageShape: [8, 8, 3])
        #expect(data.names == ["B.png", "a.PNG", "b.png", "sub/c.png"])
        #expect(data.count == 4 && data.imageShape == [8, 8, 3])
        #expect(pixels(data, 1).prefix(3) == [10, 0, 0] && pixels(data, 3).suffix(3) == [30, 0, 0])
        #expect(try data.index(named: "c.png") == 3 && data.index(named: "sub/c.png") == 3)
        #expect(expectVAEError("no image file named", "d.png") { _ = try data.index(named: "d.png") } == nil)
        #expect(try ImageDataset.load(folder, folder: folderSettings(), imageShape: [8, 8, 3], limit: 2).names == ["B.png", "a.PNG"])
        let link = temporaryDirectory().path + "/linked"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder)
        #expect(try ImageDataset.load(link, folder: folderSettings(), imageShape: [8, 8, 3]).names == data.names)
    }

    @Test func theCacheIsBuiltOnceAndReusedUntilAFileChanges() throws {
        let folder = temporaryDirectory().path, cache = temporaryDirectory().path
        for i in 0..<3 { try writePNG(flatImage([UInt8(40 * i), 100, 200], size: 16), folder + "/\(i).png") }
        let first = try ImageDataset.load(folder, folder: folderSettings(cache: cache), imageShape: [4, 4, 3])
        let built = cacheFiles(cache)
        #expect(built.count == 1)
        let modified = try FileManager.default.attributesOfItem(atPath: cache + "/" + built[0])[.modificationDate] as? Date
        let again = try ImageDataset.load(folder, folder: folderSettings(cache: cache), imageShape: [4, 4, 3])
        #expect(cacheFiles(cache) == built)
        #expect(try FileManager.default.attributesOfItem(atPath: cache + "/" + built[0])[.modificationDate] as? Date == modified)
        #expect((0..<3).allSatisfy { pixels(again, $0) == pixels(first, $0) })
        #expect(pixels(first, 2).prefix(3) == [80, 100, 200])

        try writePNG(flatImage([7, 8, 9], size: 16), folder + "/2.png")
        let changed = try ImageDataset.load(folder, folder: folderSettings(cache: cache), imageShape: [4, 4, 3])
        #expect(cacheFiles(cache).count == 2)
        #expect(pixels(changed, 2).prefix(3) == [7, 8, 9] && pixels(changed, 0) == pixels(first, 0))
        var cropped = folderSettings(cache: cache)
        cropped.resize = .centerCrop
        _ = try ImageDataset.load(folder, folder: cropped, imageShape: [4, 4, 3])
        _ = try ImageDataset.load(folder, folder: cropped, imageShape: [4, 4, 1])
        #expect(cacheFiles(cache).count == 4)
    }

    /// Four "ranks" of one node (threads here, ranks under mpirun) build one cache, each decoding a part.
    @Test func aNodesRanksBuildOneCacheTogether() throws {
        let folder = temporaryDirectory().path, alone = temporaryDirectory().path, together = temporaryDirectory().path
        for i in 0..<11 { try writePNG(flatImage([UInt8(i * 20), UInt8(i), 3], size: 8), folder + "/\(i).png") }
        let reference = try ImageDataset.load(folder, folder: folderSettings(cache: alone), imageShape: [8, 8, 3])
        let barrier = ThreadBarrier(parties: 4), results = LockedArray<[[UInt8]]>()
        let finished = DispatchGroup()
        for part in 0..<4 {  // threads of their own: a pool with fewer threads than parties would never meet
            finished.enter()
            Thread {
                let build = CacheBuild(part: part, parts: 4, barrier: barrier.wait)
                if let data = try? ImageDataset.load(folder, folder: folderSettings(cache: together), imageShape: [8, 8, 3], build: build) {
                    results.append((0..<data.count).map { pixels(data, $0) })
                }
                finished.leave()
            }.start()
        }
        finished.wait()
        #expect(results.values.count == 4)
        #expect(results.values.allSatisfy { $0 == (0..<11).map { pixels(reference, $0) } })
        #expect(cacheFiles(together) == cacheFiles(alone))
        #expect(try FileManager.default.contentsOfDirectory(atPath: together).count == 1)
    }

    @Test func badImagesStopTheRunOrAreSkipped() throws {
        let folder = temporaryDirectory().path
        for i in 0..<3 { try writePNG(flatImage([UInt8(i), 0, 0]), folder + "/\(i).png") }
        let png = try Data(contentsOf: URL(fileURLWithPath: folder + "/1.png"))
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: folder + "/1.png"))
        try Data("hello".utf8).write(to: URL(fileURLWithPath: folder + "/3.jpg"))
        let cache = temporaryDirectory().path
        #expect(expectVAEError(folder + "/1.png", "and 1 more", "data.bad_images: skip") {
            _ = try ImageDataset.load(folder, folder: folderSettings(cache: cache), imageShape: [8, 8, 3])
        } == nil)
        let skipping = try ImageDataset.load(folder, folder: folderSettings(cache: cache, badImages: .skip), imageShape: [8, 8, 3])
        #expect(skipping.names == ["0.png", "2.png"])
        #expect(skipping.skipped.count == 2 && skipping.skipped[0].hasPrefix(folder + "/1.png") && skipping.skipped[1].hasPrefix(folder + "/3.jpg"))
        #expect(pixels(skipping, 1).prefix(3) == [2, 0, 0])
        #expect(cacheFiles(cache).count == 1)
    }

    @Test(mountingNeedsRoot)
    func aFullDiskNamesTheCacheAndLeavesNoHalfWrittenFile() throws {
        let folder = temporaryDirectory().path, small = temporaryDirectory().path
        for i in 0..<4 { try writePNG(flatImage([UInt8(i), 0, 0]), folder + "/\(i).png") }
        #expect(try runProcess(["/bin/mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small]).status == 0)
        defer { _ = try? runProcess(["/bin/umount", small]) }
        // Four 128×128×3 images are 192 KiB.
        #expect(expectVAEError(small, "disk full") {
            _ = try ImageDataset.load(folder, folder: folderSettings(cache: small), imageShape: [128, 128, 3])
        } == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: small).isEmpty)
    }

    @Test func emptyOrMissingFoldersAreNamed() throws {
        let empty = temporaryDirectory().path
        #expect(expectVAEError(empty, "no .jpg, .jpeg or .png files") { _ = try ImageDataset.load(empty, folder: folderSettings(), imageShape: [8, 8, 3]) } == nil)
        #expect(expectVAEError(empty + "/nothing", "no such data file or folder") {
            _ = try ImageDataset.load(empty + "/nothing", folder: folderSettings(), imageShape: [8, 8, 3])
        } == nil)
        let bad = temporaryDirectory().path
        try Data("x".utf8).write(to: URL(fileURLWithPath: bad + "/a.jpg"))
        #expect(expectVAEError("none of its 1 image files") {
            _ = try ImageDataset.load(bad, folder: folderSettings(badImages: .skip), imageShape: [8, 8, 3])
        } == nil)
    }

    @Test func attributeFilesInBothOfCelebAsLayouts() throws {
        let directory = temporaryDirectory().path
        let csv = directory + "/list_attr_celeba.csv", txt = directory + "/list_attr_celeba.txt"
        try "image_id,Smiling,Eyeglasses\n000001.jpg,1,-1\n000002.jpg,-1,-1\n000003.jpg,1,1\n".write(toFile: csv, atomically: true, encoding: .utf8)
        try "3\nSmiling Eyeglasses\n000001.jpg  1 -1\n000002.jpg -1 -1\n000003.jpg  1  1\n".write(toFile: txt, atomically: true, encoding: .utf8)
        for path in [csv, txt] {
            let table = try AttributeTable(contentsOf: path)
            #expect(table.attributes == ["Smiling", "Eyeglasses"])
            #expect(try table.split(by: "Smiling") == (["000001.jpg", "000003.jpg"], ["000002.jpg"]))
            #expect(expectVAEError(path, "no attribute Bald") { _ = try table.split(by: "Bald") } == nil)
        }
        try "image_id,Smiling\n000001.jpg,2\n".write(toFile: csv, atomically: true, encoding: .utf8)
        #expect(expectVAEError(csv, "line 2", "1 or -1") { _ = try AttributeTable(contentsOf: csv) } == nil)
    }
}

/// Threads meeting as ranks do at a barrier.
final class ThreadBarrier: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    private var waiting = 0, generation = 0

    init(parties: Int) { self.parties = parties }

    func wait() {
        condition.lock()
        defer { condition.unlock() }
        let mine = generation
        waiting += 1
        if waiting == parties {
            (waiting, generation) = (0, generation + 1)
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
    }
}

final class LockedArray<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var elements: [Element] = []
    func append(_ element: Element) { lock.withLock { elements.append(element) } }
    var values: [Element] { lock.withLock { elements } }
}
