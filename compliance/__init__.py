"""Compliance engine for BUS agreements and SIP: event logs in, findings and deviation drafts out."""

__version__ = "0.1.0"
