"""The edge: socket.io namespaces, HTTP routes and the notifier. Thin by design."""
