-- Which rows share a photo file: checked when an upload that wrote a file did not commit,
-- so the file can be removed instead of left behind.
CREATE INDEX photos_by_sha ON photos (sha256);
