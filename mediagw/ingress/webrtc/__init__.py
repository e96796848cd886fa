"""WebRTC ingress over WHIP (RFC 9725) on aiortc: browsers, agent desktops and media servers send audio directly."""
