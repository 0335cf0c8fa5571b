"""Shared transports for drivers: SSH (netmiko) and HTTP (requests). No vendor names here."""
