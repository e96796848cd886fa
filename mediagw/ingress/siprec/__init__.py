"""SIPREC ingress: a Session Recording Server (RFC 7866) receiving SIP and RTP from an SBC."""
