// How a folder of JPEG and PNG files becomes a data set: how its images take the model's size, what an
// undecodable one does to the run, and where the decoded cache lives (the config's data section sets them).

/// How a folder's images take the model's input size.
public enum Resize: String, CaseIterable, Equatable, Sendable, Codable {
    /// Scale each axis to the target (Keras's flow_from_directory, the book's).
    case stretch
    /// Crop the middle to the target's aspect, then scale.
    case centerCrop = "center_crop"
}

/// What a folder's undecodable image does to the run.
public enum BadImages: String, CaseIterable, Equatable, Sendable, Codable {
    /// One line naming the file, exit 2.
    case error
    /// A warning per file; the run goes on without it.
    case skip
}

public struct FolderSettings: Equatable, Sendable {
    public var resize: Resize
    public var badImages: BadImages
    /// Node-local by default, so that nodes without a shared file system each build their own.
    public var cacheDirectory: String

    public init(resize: Resize, badImages: BadImages, cacheDirectory: String) {
        self.resize = resize
        self.badImages = badImages
        self.cacheDirectory = cacheDirectory
    }
}
