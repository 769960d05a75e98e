"""Session files: the schema, the recorder that writes them, the reader that opens them."""
