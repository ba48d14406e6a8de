"""INWX DomRobot: the JSON-RPC client and the registrar adapter (adapter.py), and the sandbox
(sandbox.py) that also answers INWX DNS."""
