"""The embedded backend: SQLite and the filesystem, no servers needed."""
