"""The audit log: who changed what, with which credential, from where."""
