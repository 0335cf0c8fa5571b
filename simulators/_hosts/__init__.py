"""Shared mechanics for device simulators (SSH and HTTP servers on 127.0.0.1). No vendor names here."""
