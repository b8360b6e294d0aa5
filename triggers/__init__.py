"""Events that become jobs (an upload, a query document) and the synchronous HTTP API."""
