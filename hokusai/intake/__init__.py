"""The contribution side: reading an upload, validating, cleaning, the quality gate, rejections."""
