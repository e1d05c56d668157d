"""The drop zone: where contributions arrive (a folder or S3), and how keys become partitions."""
